"""tools/test.py and the inference API with converted FCN-8s (Caffe) and torchvision weights.

Random weights in each source layout are converted by the converters' ``main``,
tested with ``tools/test.py --out`` on the tiny VOC folder, and the written label PNGs
must equal what ``fcn_mm.apis.inference_model`` predicts with the same config and
checkpoint; the metrics JSON must match the PNGs.
"""
import importlib.util
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
from PIL import Image
from tools_cli_utils import REPO, VAL_NAMES, run_cli
from torchvision.models import segmentation

from fcn_mm.apis import inference_model, init_model

NARROW_VGG = ['model.pretrained=None', 'model.backbone.base_channels=2',
              'model.backbone.fc_channels=8', 'model.decode_head.in_channels=[3,8,16,8]',
              'model.decode_head.channels=8']


def _data_options(voc_root):
    return [f'test_dataloader.dataset.data_root={voc_root}', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']


def _options_dict(options):
    from mmengine.config import DictAction
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def _test_and_compare(config, checkpoint, options, voc_root, tmp_path):
    out_dir, work_dir = tmp_path / 'pred', tmp_path / 'work'
    proc = run_cli(['tools/test.py', config, checkpoint, '--work-dir', str(work_dir),
                    '--out', str(out_dir), '--cfg-options', *options])
    output = proc.stdout + proc.stderr
    match = re.search(r'Metrics written to (\S+\.json)', output)
    assert match, output[-3000:]
    with open(match.group(1)) as f:
        metrics = json.load(f)
    model = init_model(osp.join(REPO, config), checkpoint, cfg_options=_options_dict(options))
    correct = total = 0
    for name in VAL_NAMES:
        written = np.array(Image.open(out_dir / f'{name}.png'), dtype=np.int64)
        result = inference_model(model, osp.join(voc_root, 'JPEGImages', f'{name}.jpg'))
        predicted = result.pred_sem_seg.data[0].numpy()
        assert written.shape == predicted.shape == (40, 48)
        assert (written == predicted).mean() >= 0.999
        gt = np.array(Image.open(osp.join(voc_root, 'SegmentationClass', f'{name}.png')))
        valid = gt != 255
        correct += int((written[valid] == gt[valid]).sum())
        total += int(valid.sum())
    assert metrics['aAcc'] == pytest.approx(100 * correct / total, abs=0.011)
    return metrics


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', 'model_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_caffe_fcn8s_weights_test_with_tools_test(voc_root, tmp_path):
    torch.manual_seed(0)
    shapes = _load_tool('fcn_caffe2fcnmm').expected_shapes('8s', base=2, fc=8, num_classes=21)
    src, ckpt = tmp_path / 'fcn8s_caffe.pth', tmp_path / 'fcn8s_fcnmm.pth'
    torch.save({k: torch.randn(s) for k, s in shapes.items()}, src)
    assert _load_tool('fcn_caffe2fcnmm').main([str(src), str(ckpt)]) == '8s'
    metrics = _test_and_compare('configs/fcn/fcn8s_vgg16_480x480_voc.py', str(ckpt),
                                NARROW_VGG + _data_options(voc_root), voc_root, tmp_path)
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)


def test_torchvision_fcn_weights_test_with_tools_test(voc_root, tmp_path):
    torch.manual_seed(0)
    reference = segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True)
    src, ckpt = tmp_path / 'fcn_resnet50.pth', tmp_path / 'fcn_tvseg.pth'
    torch.save(reference.state_dict(), src)
    assert _load_tool('tvseg2fcnmm').main([str(src), str(ckpt)]) == 50
    # keep the images at 40x48 (the VOC test pipeline would resize them to 512 rows)
    options = ['test_dataloader.dataset.pipeline.1.scale=(48,40)'] + _data_options(voc_root)
    _test_and_compare('configs/fcn/fcn_tvseg-r50-d8_480x480_voc.py', str(ckpt), options,
                      voc_root, tmp_path)
