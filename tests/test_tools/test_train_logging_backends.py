"""TensorBoard from --cfg-options: scalars, per-class IoU, val loss and drawings reach the
event file (read back with tensorboard's EventAccumulator)."""
import glob
import os.path as osp

import pytest
from tensorboard.backend.event_processing import event_accumulator  # the [tests] extra
from tools_cli_utils import run_cli


@pytest.fixture(scope='module')
def tensorboard_run(tiny_config, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('tb'))
    proc = run_cli([
        'tools/train.py', tiny_config, '--work-dir', work_dir, '--cfg-options',
        "visualizer.vis_backends=[dict(type='LocalVisBackend'), "
        "dict(type='TensorboardVisBackend')]",
        'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
        'val_cfg.compute_loss=True', 'default_hooks.visualization.draw=True',
        'default_hooks.visualization.interval=1'])
    events = glob.glob(osp.join(work_dir, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1, (events, proc.stdout[-3000:])
    acc = event_accumulator.EventAccumulator(events[0], size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc, proc.stdout + proc.stderr


def _series(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_loss_lr_and_miou_reach_the_event_file(tensorboard_run):
    acc, output = tensorboard_run
    tags = set(acc.Tags()['scalars'])
    for tag in ('loss', 'lr', 'decode.loss_ce', 'aux.loss_ce', 'decode.acc_seg',
                'mIoU', 'aAcc', 'mAcc'):
        assert tag in tags, (tag, sorted(tags))
    assert [step for step, _ in _series(acc, 'loss')] == [1, 2, 3, 4]
    lrs = [value for _, value in _series(acc, 'lr')]
    assert lrs[0] == pytest.approx(0.05, rel=1e-4) and lrs == sorted(lrs, reverse=True)
    assert lrs[-1] < lrs[0]  # the PolyLR decay is logged, not a constant
    miou = _series(acc, 'mIoU')
    assert [step for step, _ in miou] == [2, 4]
    assert all(0 <= value <= 100 for _, value in miou)
    logged = [float(line.split('mIoU: ')[1].split()[0]) for line in output.splitlines()
              if 'Iter(val)' in line and 'mIoU: ' in line]
    assert [round(value, 2) for _, value in miou] == pytest.approx(logged, abs=0.01)


def test_per_class_iou_and_val_loss_reach_the_event_file(tensorboard_run):
    acc, output = tensorboard_run
    tags = set(acc.Tags()['scalars'])
    # the tiny VOC data has background, aeroplane and person pixels
    for name in ('background', 'aeroplane', 'person'):
        assert f'IoU.{name}' in tags and f'Acc.{name}' in tags
        assert [step for step, _ in _series(acc, f'IoU.{name}')] == [2, 4]
    assert len([t for t in tags if t.startswith('IoU.')]) == 21
    val_loss = _series(acc, 'val_loss')
    assert [step for step, _ in val_loss] == [2, 4]
    assert all(value > 0 for _, value in val_loss)
    assert 'val_loss: ' in output and 'decode.loss_ce: ' in output


def test_validation_drawings_reach_the_event_file(tensorboard_run):
    acc, _ = tensorboard_run
    images = acc.Tags()['images']
    assert any(tag.startswith('val_') and tag.endswith('.jpg') for tag in images), images
    event = acc.Images(images[0])[0]
    assert event.width == 48 * 3 and event.height == 40  # image | labels | prediction
