"""int8 calibration on a ConcatDataset (every VOC config's training set): the split of
the images over the parts, the images drawn from a tiny VOC tree (VOC train + SBD aug),
tools/deployment/quantize.py with its default --calib-split train on a VOC config, and
check_int8_accuracy.sh passing CALIB / CALIB_SPLIT to quantize.py."""
import importlib.util
import json
import os
import os.path as osp
import runpy
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from deploy_helpers import REPO

from fcn_mm.deploy import (calibration_dataset_cfg, calibration_indices, calibration_set,
                           split_over_parts)

TINY_VOC = osp.join(REPO, 'tests', 'configs', 'fcn_r18-tiny_32x32.py')
TRAIN, AUG, VAL = ['2007_000032', '2007_000039', '2007_000063'], \
    ['2008_000002', '2008_000003', '2008_000007'], ['2007_000033']
# part 0 (VOC train) images are dark, part 1 (SBD aug) bright: the pixel mean says
# which part a calibration image comes from
DARK, BRIGHT = 40, 210


def _voc_layout():
    if 'voc_layout' in sys.modules:
        return sys.modules['voc_layout']
    path = osp.join(REPO, 'tests', 'test_datasets', 'voc_layout.py')
    spec = importlib.util.spec_from_file_location('voc_layout', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules['voc_layout'] = module
    return module


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    """A VOC2012 tree: train.txt (SegmentationClass), aug.txt (SegmentationClassAug)."""
    layout = _voc_layout()
    root = str(tmp_path_factory.mktemp('VOCdevkit'))

    def sample(stem, value, seed):
        rng = np.random.default_rng(seed)
        img = np.clip(value + rng.integers(-20, 21, (24, 32, 3)), 0, 255).astype(np.uint8)
        return img, layout.block_label(24, 32, range(21), seed=seed)

    samples = {s: sample(s, DARK, i) for i, s in enumerate(TRAIN + VAL)}
    layout.write_voc_layout(root, samples, splits=dict(train=TRAIN, val=VAL))
    aug = {s: sample(s, BRIGHT, 10 + i) for i, s in enumerate(AUG)}
    return layout.write_voc_layout(root, aug, splits=dict(aug=AUG),
                                   label_dir='SegmentationClassAug', label_mode='L')


def _data_options(voc):
    """--cfg-options of the tiny VOC config for the tree at ``voc`` (a dict)."""
    return {'train_dataloader.dataset.datasets.0.data_root': voc,
            'train_dataloader.dataset.datasets.1.data_root': voc,
            'val_dataloader.dataset.data_root': voc,
            'test_dataloader.dataset.data_root': voc,
            # the test pipeline's Resize to (2048, 512) made small
            'test_pipeline.1.scale': (64, 48)}


def _cli_options(options):
    return [f'{key}={value}'.replace(' ', '') for key, value in options.items()]


def test_split_over_parts_in_proportion_with_every_part_drawn():
    assert split_over_parts(10, [3, 7]) == [3, 7]
    assert split_over_parts(64, [1464, 9118]) == [9, 55]   # VOC train + SBD aug
    assert split_over_parts(2, [1464, 9118]) == [1, 1]     # each part, while num allows
    assert split_over_parts(3, [1, 100, 1]) == [1, 1, 1]
    assert split_over_parts(1, [5, 5]) == [1, 0]           # fewer images than parts
    assert split_over_parts(4, [0, 2, 2]) == [0, 2, 2]
    assert calibration_indices(2, [3, 3]) == [0, 3]
    assert calibration_indices(5, [4, 6]) == [0, 2, 4, 6, 8]
    assert calibration_indices(3, [6]) == [0, 2, 4]
    with pytest.raises(ValueError, match='--calib 7: the calibration data set has only 6'):
        split_over_parts(7, [3, 3])
    with pytest.raises(ValueError, match='--calib must be a positive number of images'):
        calibration_indices(0, [3, 3])


def test_calibration_on_the_voc_concat_draws_from_both_parts(voc_root):
    from fcn_mm.utils.config_check import load_config
    cfg = load_config(TINY_VOC, _data_options(voc_root))
    assert cfg.train_dataloader.dataset.type == 'ConcatDataset'
    dataset_cfg = calibration_dataset_cfg(cfg)
    # every part gets the test pipeline (no random crop or photometric distortion)
    assert [[t['type'] for t in part['pipeline']] for part in dataset_cfg['datasets']] == \
        [['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']] * 2
    calib = calibration_set(cfg, 4)
    assert calib.part_sizes == [3, 3] and calib.per_part == [2, 2]
    assert calib.indices == [0, 1, 3, 4]
    stems = [osp.splitext(osp.basename(p))[0] for p in calib.img_paths]
    assert stems == TRAIN[:2] + AUG[:2]
    means = [float(img.mean()) for img in calib.images]
    assert all(abs(m - DARK) < 10 for m in means[:2]), means
    assert all(abs(m - BRIGHT) < 10 for m in means[2:]), means
    assert calib.images[0].shape == (3, 48, 64)   # through the test pipeline's Resize
    # a RepeatDataset calibrates on the data set it repeats
    cfg.val_dataloader.dataset = dict(type='RepeatDataset', times=5,
                                      dataset=cfg.val_dataloader.dataset)
    calib = calibration_set(cfg, 1, split='val')
    assert calib.part_sizes == [1] and osp.basename(calib.img_paths[0]) == VAL[0] + '.jpg'


def _tool_main(path):
    return runpy.run_path(path, run_name='fcn_mm_tool')['main']


def test_quantize_tool_on_a_voc_config_calibrates_on_its_concat(voc_root, tmp_path, capsys):
    from fcn_mm.apis import init_model
    torch.manual_seed(0)
    model = init_model(TINY_VOC, None, device='cpu')
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    out = str(tmp_path / 'tiny_int8.onnx')
    main = _tool_main(osp.join(REPO, 'tools', 'deployment', 'quantize.py'))
    code = main([TINY_VOC, checkpoint, '--calib', '2', '--out', out, '--shape', '32', '32',
                 '--cfg-options'] + _cli_options(_data_options(voc_root)))
    log = capsys.readouterr().out
    assert code == 0, log
    assert ('calibration: 2 images of the train split (ConcatDataset: 1 of 3 from part 0, '
            '1 of 3 from part 1) through the test pipeline') in log
    info = json.loads({p.key: p.value for p in onnx.load(out).metadata_props}['quantization'])
    assert info['calib_split'] == 'train' and info['num_calib'] == 2
    assert info['calib_part_sizes'] == [3, 3] and info['calib_per_part'] == [1, 1]
    assert info['float_score_layers'] == ['decode_head.conv_seg']
    assert info['num_quantized_weights'] >= 10


def test_check_int8_accuracy_passes_calib_and_split(tmp_path):
    """The acceptance script with a stand-in Python that logs the quantize.py arguments
    and reports fixed mIoU values for tools/test.py."""
    calls = tmp_path / 'calls.txt'
    stub = tmp_path / 'python'
    stub.write_text(f"""#!/usr/bin/env bash
case "$1" in
  tools/deployment/quantize.py) echo "$@" >> {calls} ;;
  tools/test.py)
    dir=$(for a in "$@"; do [ "$prev" = "--work-dir" ] && echo "$a"; prev=$a; done)
    mkdir -p "$dir"; out="$dir/metrics.json"
    if [[ "$3" == *.onnx ]]; then v=70.5; else v=71.0; fi
    echo "{{\\"mIoU\\": $v}}" > "$out"; echo "Metrics written to $out" ;;
  *) exec {sys.executable} "$@" ;;
esac
""")
    stub.chmod(0o755)
    env = dict(os.environ, PYTHON=str(stub), CALIB='12', CALIB_SPLIT='val')
    proc = subprocess.run(
        ['bash', 'tools/deployment/check_int8_accuracy.sh', 'configs/fcn/x.py', 'x.pth',
         str(tmp_path / 'work'), '--', 'a=1'], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    args = calls.read_text().split()
    assert args[:6] == ['tools/deployment/quantize.py', 'configs/fcn/x.py', 'x.pth',
                        '--calib', '12', '--calib-split'] and args[6] == 'val'
    assert args[-2:] == ['--cfg-options', 'a=1']
    assert 'mIoU float32 (PyTorch) 71.00 | int8 (ONNX Runtime, 12 calibration images) ' \
        '70.50' in proc.stdout
    # the default split is train
    calls.unlink()
    env.pop('CALIB_SPLIT')
    subprocess.run(['bash', 'tools/deployment/check_int8_accuracy.sh', 'configs/fcn/x.py',
                    'x.pth', str(tmp_path / 'work')], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=60)
    assert '--calib-split train' in calls.read_text()
