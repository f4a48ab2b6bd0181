"""The command lines on a short training run's checkpoint: export with --verify, then
tools/test.py with --backend pytorch and onnxruntime (same table, mIoU within 0.05), and
demo/image_demo.py / inference_model with the .onnx file."""
import argparse
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from deploy_helpers import DEMO_CONFIG, REPO
from mmengine.config import DictAction

from fcn_mm.apis import inference_model, init_model


def _run(args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (f'{args} exited with {proc.returncode}\n'
                                  f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc.stdout + proc.stderr


def _data_options(data_root):
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=16',
               'demo_data.num_val=6', 'demo_data.image_size=64']
    for split in ('train', 'val', 'test'):
        options.append(f'{split}_dataloader.dataset.data_root={data_root}')
        options += [f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return options


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """20 iterations of the demo config on a small generated demo set, then the export."""
    tmp = tmp_path_factory.mktemp('deploy_train')
    data_root, work_dir = str(tmp / 'data'), str(tmp / 'work')
    options = _data_options(data_root)
    _run(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options'] + options
         + ['train_cfg.max_iters=20', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=20', 'train_dataloader.batch_size=4',
            # background weighs less, so that 20 iterations predict more than background
            'model.decode_head.loss_decode.class_weight=[0.05,1,1,1,1,1]'])
    checkpoint = osp.join(work_dir, 'iter_20.pth')
    onnx_file = osp.join(work_dir, 'fcn_r18-d8_demo.onnx')
    export_log = _run(['tools/deployment/pytorch2onnx.py', DEMO_CONFIG, checkpoint,
                       '--out', onnx_file, '--dynamic', '--with-argmax', '--verify',
                       '--cfg-options'] + options)
    return dict(data_root=data_root, work_dir=work_dir, checkpoint=checkpoint,
                onnx=onnx_file, export_log=export_log, options=options)


def test_export_verify_prints_the_comparison(trained):
    log = trained['export_log']
    assert re.search(r"wrote .*fcn_r18-d8_demo\.onnx \([\d.]+ MiB, opset 18\): input img "
                     r"\['N', 3, 'H', 'W'\] float32 raw BGR 0\.\.255 -> seg_logits, labels", log)
    rows = [line for line in log.splitlines() if re.match(r'(test image|random) ', line)]
    # the first test image (after the pipeline's Resize to 128) and two random sizes
    assert rows[0].startswith('test image val_0000.jpg') and '(1, 3, 128, 128)' in rows[0]
    assert len(rows) == 3 and all(row.endswith('% ok') for row in rows), log


def _test(trained, checkpoint, out_dir, *extra):
    log = _run(['tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir',
                osp.join(trained['work_dir'], 'test'), '--out', out_dir, *extra,
                '--cfg-options'] + trained['options'])
    path = re.search(r'Metrics written to (\S+)', log).group(1)
    with open(path) as f:
        metrics = json.load(f)
    table = [line for line in log.splitlines() if line.startswith('|')]
    labels = {name: cv2.imread(osp.join(out_dir, name), cv2.IMREAD_UNCHANGED)
              for name in sorted(os.listdir(out_dir))}
    return metrics, table, labels


def test_tools_test_onnxruntime_gives_the_pytorch_miou(trained, tmp_path):
    torch_metrics, torch_table, torch_labels = _test(trained, trained['checkpoint'],
                                                     str(tmp_path / 'pytorch'))
    ort_metrics, ort_table, ort_labels = _test(trained, trained['onnx'],
                                               str(tmp_path / 'onnxruntime'),
                                               '--backend', 'onnxruntime')
    assert ort_metrics['checkpoint'] == trained['onnx']
    assert abs(ort_metrics['mIoU'] - torch_metrics['mIoU']) <= 0.05, (torch_metrics,
                                                                      ort_metrics)
    assert abs(ort_metrics['aAcc'] - torch_metrics['aAcc']) <= 0.05
    # the same per-class table: header and six classes, values within 0.05
    assert len(torch_table) == len(ort_table) == 7 and ort_table[0] == torch_table[0]
    for torch_row, ort_row in zip(torch_table[1:], ort_table[1:]):
        torch_cells = [c.strip() for c in torch_row.split('|')[1:-1]]
        ort_cells = [c.strip() for c in ort_row.split('|')[1:-1]]
        assert ort_cells[0] == torch_cells[0]
        for a, b in zip(torch_cells[1:], ort_cells[1:]):
            assert (a == b == 'nan') or abs(float(a) - float(b)) <= 0.05, (torch_row, ort_row)
    # and the same label of (nearly) every pixel of the six test images, which show more
    # than one class (else equal tables would prove little)
    assert sorted(ort_labels) == sorted(torch_labels) and len(ort_labels) == 6
    assert len(np.unique(np.concatenate([a.ravel() for a in torch_labels.values()]))) >= 2
    agree = np.mean([(ort_labels[k] == torch_labels[k]).mean() for k in torch_labels])
    assert agree >= 0.999


def test_inference_api_and_image_demo_take_the_onnx_file(trained, tmp_path, monkeypatch):
    image = osp.join(trained['data_root'], 'JPEGImages', 'val_0001.jpg')
    options = dict(o.split('=', 1) for o in trained['options'][4:5])  # test data root
    torch_model = init_model(DEMO_CONFIG, trained['checkpoint'], cfg_options=options)
    ort_model = init_model(DEMO_CONFIG, trained['onnx'], cfg_options=options)
    assert type(ort_model).__name__ == 'ONNXRuntimeSegmentor'
    assert ort_model.dataset_meta['classes'] == torch_model.dataset_meta['classes']
    ref, out = inference_model(torch_model, image), inference_model(ort_model, image)
    assert out.seg_logits.data.shape == ref.seg_logits.data.shape == (6, 64, 64)
    scale = float(ref.seg_logits.data.abs().max())
    assert float((out.seg_logits.data - ref.seg_logits.data).abs().max()) <= 1e-3 * scale
    assert torch.equal(out.pred_sem_seg.data, ref.pred_sem_seg.data)
    out_file = str(tmp_path / 'onnx_result.png')
    monkeypatch.setattr(sys, 'argv', ['image_demo.py', image, DEMO_CONFIG, trained['onnx'],
                                      '--device', 'cpu', '--out-file', out_file])
    monkeypatch.chdir(REPO)
    runpy.run_path(osp.join(REPO, 'demo', 'image_demo.py'), run_name='__main__')
    drawing = cv2.imread(out_file)
    assert drawing is not None and drawing.shape == (64, 128, 3)
    assert not np.array_equal(drawing[:, :64], drawing[:, 64:])  # image | prediction


def test_test_setup_swaps_the_model_for_the_onnx_file(trained, tmp_path):
    from fcn_mm.apis.testing import setup_test_config
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options'] + trained['options']).cfg_options
    cfg = setup_test_config(DEMO_CONFIG, trained['onnx'], cfg_options=options,
                            work_dir=str(tmp_path), backend='onnxruntime')
    assert cfg.model.type == 'ONNXRuntimeSegmentor' and cfg.model.onnx_file == trained['onnx']
    assert cfg.model.test_cfg == dict(mode='whole') and cfg.load_from is None
    assert cfg.test_dataloader.dataset.pipeline[1].type == 'Resize'  # the pipeline stays
    with pytest.raises(ValueError, match=r"runs in one process .* use --launcher none, "
                                         r"not 'pytorch'"):
        setup_test_config(DEMO_CONFIG, trained['onnx'], backend='onnxruntime',
                          launcher='pytorch')
    with pytest.raises(ValueError, match=r"--backend must be one of \('pytorch', "
                                         r"'onnxruntime'\), got 'tensorrt'"):
        setup_test_config(DEMO_CONFIG, trained['onnx'], backend='tensorrt')
