"""tools/test.py end to end: metrics JSON, 'P' PNGs, drawings, and torchrun (gloo)."""
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from tools_cli_utils import VAL_NAMES, free_port, run_cli


@pytest.fixture(scope='session')
def tested(trained, tiny_config, tmp_path_factory):
    """Test the trained checkpoint once (single process) with --out and --show-dir."""
    base = tmp_path_factory.mktemp('test')
    out_dir, show_dir = str(base / 'pred'), str(base / 'show')
    proc = run_cli(['tools/test.py', tiny_config, trained['checkpoint'],
                    '--work-dir', str(base / 'work'), '--out', out_dir,
                    '--show-dir', show_dir])
    output = proc.stdout + proc.stderr
    match = re.search(r'Metrics written to (\S+\.json)', output)
    assert match, output[-3000:]
    with open(match.group(1)) as f:
        metrics = json.load(f)
    return dict(output=output, metrics=metrics, json=match.group(1), out_dir=out_dir,
                show_dir=show_dir)


def _metrics_from_pngs(pred_dir: str, voc_root: str, num_classes: int = 21) -> dict:
    """aAcc and mIoU (percent) computed from the written PNGs and the labels."""
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    correct = total = 0
    for name in VAL_NAMES:
        pred = np.array(Image.open(osp.join(pred_dir, f'{name}.png')), dtype=np.int64)
        gt = np.array(Image.open(osp.join(voc_root, 'SegmentationClass', f'{name}.png')),
                      dtype=np.int64)
        valid = gt != 255
        correct += int((pred[valid] == gt[valid]).sum())
        total += int(valid.sum())
        for c in range(num_classes):
            inter[c] += ((pred == c) & (gt == c) & valid).sum()
            union[c] += (((pred == c) | (gt == c)) & valid).sum()
    iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    return dict(aAcc=round(100 * correct / total, 2), mIoU=round(100 * np.nanmean(iou), 2))


def test_metrics_json_table_and_progress(tested):
    metrics = tested['metrics']
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert tested['json'].endswith('.json') and osp.dirname(tested['json']).endswith('work')
    assert 'aeroplane' in tested['output'] and 'person' in tested['output']
    num = len(VAL_NAMES)
    assert re.search(rf'\] {num}/{num}, [\d.]+ task/s, elapsed', tested['output'])  # bar
    assert f"Prediction PNGs written to {tested['out_dir']}" in tested['output']
    assert f"Drawings written to {tested['show_dir']}" in tested['output']


def test_out_writes_palette_pngs_of_the_predictions(tested, voc_root):
    names = sorted(os.listdir(tested['out_dir']))
    assert names == sorted(f'{n}.png' for n in VAL_NAMES)
    image = Image.open(osp.join(tested['out_dir'], names[0]))
    assert image.mode == 'P' and image.size == (48, 40)
    assert image.getpalette()[15 * 3:16 * 3] == [192, 128, 128]  # VOC's person colour
    expected = _metrics_from_pngs(tested['out_dir'], voc_root)
    assert expected['aAcc'] == pytest.approx(tested['metrics']['aAcc'], abs=0.011)
    assert expected['mIoU'] == pytest.approx(tested['metrics']['mIoU'], abs=0.011)


def test_show_dir_draws_image_gt_and_prediction(tested):
    names = sorted(os.listdir(tested['show_dir']))
    assert names == sorted(f'{n}.png' for n in VAL_NAMES)
    drawing = Image.open(osp.join(tested['show_dir'], names[0]))
    assert drawing.size == (3 * 48, 40)


def test_torchrun_two_processes_train_and_test_on_cpu_like_one(trained, tested, tiny_config,
                                                       tmp_path):
    torchrun = ['-m', 'torch.distributed.run', '--nproc_per_node=2',
                f'--master_port={free_port()}']
    proc = run_cli(torchrun + ['tools/train.py', tiny_config, '--launcher', 'pytorch',
                               '--work-dir', str(tmp_path / 'dist_train')])
    output = proc.stdout + proc.stderr
    assert 'Distributed training: True' in output
    assert "using 'gloo' instead" in output
    assert osp.isfile(tmp_path / 'dist_train' / 'iter_2.pth')

    # tools/dist_test.sh: torchrun with --launcher pytorch
    proc = run_cli(['bash', 'tools/dist_test.sh', tiny_config, trained['checkpoint'], '2',
                    '--work-dir', str(tmp_path / 'dist_test')], python=False,
                   extra_env=dict(PORT=str(free_port())))
    output = proc.stdout + proc.stderr
    match = re.findall(r'Metrics written to (\S+\.json)', output)
    assert len(match) == 1  # rank 0 only
    with open(match[0]) as f:
        metrics = json.load(f)
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert metrics[key] == tested['metrics'][key]


def test_tta_flips_and_merges(trained, tiny_config, tmp_path):
    from mmengine.config import Config
    proc = run_cli(['tools/test.py', tiny_config, trained['checkpoint'], '--tta',
                    '--work-dir', str(tmp_path / 'tta')])
    output = proc.stdout + proc.stderr
    assert re.search(r'Metrics written to \S+\.json', output)
    dumped = Config.fromfile(str(tmp_path / 'tta' / 'fcn_tiny_voc.py'))
    assert dumped.model.type == 'SegTTAModel'
    assert dumped.model.module.type == 'EncoderDecoder'
    assert dumped.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'
