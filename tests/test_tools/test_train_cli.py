"""tools/train.py end to end: train, resume, --amp, and the R50 VOC config."""
import json
import os
import os.path as osp
import re
import shutil

import pytest
from mmengine.config import Config

from fcn_mm.utils.device import cpu_supports_bf16
from fcn_mm.utils.safe_loading import load_checkpoint_file
from tools_cli_utils import REPO, TRAIN_NAMES, run_cli


def _iters_logged(output: str) -> list:
    return [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/', output)]


def test_train_saves_a_checkpoint_and_turns_syncbn_into_bn(trained):
    assert osp.isfile(trained['checkpoint'])
    assert 'converted 4 SyncBN setting(s) in the config to BN' in trained['output']
    assert re.search(r'fcn_mm \S+ \(git \w+\)', trained['output'])
    assert _iters_logged(trained['output']) == [1, 2]
    dumped = Config.fromfile(osp.join(trained['work_dir'], 'fcn_tiny_voc.py'))
    assert dumped.model.backbone.norm_cfg.type == 'BN'
    meta = load_checkpoint_file(trained['checkpoint'])['meta']
    assert meta['iter'] == 2


def test_resume_continues_from_the_saved_iteration(trained, tiny_config, tmp_path):
    work_dir = str(tmp_path / 'resumed')
    shutil.copytree(trained['work_dir'], work_dir)
    proc = run_cli(['tools/train.py', tiny_config, '--work-dir', work_dir, '--resume',
                    '--cfg-options', 'train_cfg.max_iters=4'])
    output = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in output
    assert _iters_logged(output) == [3, 4]
    meta = load_checkpoint_file(osp.join(work_dir, 'iter_4.pth'))['meta']
    assert meta['iter'] == 4


def _probe_cache_saying(tmp_path, ratio: float) -> dict:
    """A bf16 probe cache whose training answer is ``ratio`` for this CPU and torch, at
    any thread count the child may use; the env var that points train.py to it."""
    from fcn_mm.utils import bf16_probe
    threads = {1, 2, os.cpu_count() or 1}
    entries = {bf16_probe.probe_key(True, n): dict(ratio=ratio, fp32_s=ratio, bf16_s=1.0)
               for n in threads}
    path = tmp_path / 'amp_probe.json'
    path.write_text(json.dumps(dict(version=1, entries=entries)))
    return {bf16_probe.CACHE_ENV: str(path)}


def test_amp_trains_in_float32_where_bf16_is_slower_and_says_why(tiny_config, tmp_path):
    work_dir = str(tmp_path / 'amp_slow')
    proc = run_cli(['tools/train.py', tiny_config, '--work-dir', work_dir, '--amp'],
                   extra_env=_probe_cache_saying(tmp_path, 0.7))
    output = proc.stdout + proc.stderr
    assert _iters_logged(output) == [1, 2]
    losses = [float(v) for v in re.findall(r'decode\.loss_ce: ([-\d.e+na]+)', output)]
    assert len(losses) == 2 and all(v == v and abs(v) < 1e3 for v in losses)
    dumped = Config.fromfile(osp.join(work_dir, 'fcn_tiny_voc.py'))
    assert dumped.optim_wrapper.type == 'AmpOptimWrapper'
    assert 'loss_scale' not in dumped.optim_wrapper  # CPU: no scaler
    # the bf16 branch of --amp (bf16 where it is faster) is tested on the wrapper,
    # tests/test_engine/test_amp_optim_wrapper.py
    amp_lines = [line for line in output.splitlines() if ' - AMP: ' in line]
    assert len(amp_lines) == 1, amp_lines
    assert 'AMP: float32 without autocast' in amp_lines[0]
    assert "force bf16 with optim_wrapper.dtype='bfloat16'" in amp_lines[0]
    if cpu_supports_bf16():
        assert '0.70x the float32 speed' in amp_lines[0]
        assert 'below the 1.15x margin' in amp_lines[0]


@pytest.fixture
def voc_aug_root(voc_root):
    """The SBD part of voc12aug: SegmentationClassAug + aug.txt next to VOC's files."""
    aug = osp.join(voc_root, 'SegmentationClassAug')
    if not osp.isdir(aug):
        shutil.copytree(osp.join(voc_root, 'SegmentationClass'), aug)
        with open(osp.join(voc_root, 'ImageSets/Segmentation/aug.txt'), 'w') as f:
            f.write('\n'.join(TRAIN_NAMES[:2]) + '\n')
    return voc_root


def test_r50_voc_config_trains_two_iterations(voc_aug_root, tmp_path):
    config = osp.join(REPO, 'configs/fcn/fcn_r50-d8_480x480_voc.py')
    root = voc_aug_root
    options = [
        f'train_dataloader.dataset.datasets.0.data_root={root}',
        f'train_dataloader.dataset.datasets.1.data_root={root}',
        'train_dataloader.dataset.datasets.0.pipeline.2.scale=(96,64)',
        'train_dataloader.dataset.datasets.1.pipeline.2.scale=(96,64)',
        'train_dataloader.dataset.datasets.0.pipeline.3.crop_size=(64,64)',
        'train_dataloader.dataset.datasets.1.pipeline.3.crop_size=(64,64)',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        # no validation: R50-D8 on 512-px test images is too slow for a unit test
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        'model.data_preprocessor.size=(64,64)', 'model.pretrained=None',
        'train_cfg.max_iters=2', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.save_last=False',
    ]
    proc = run_cli(['tools/train.py', config, '--work-dir', str(tmp_path / 'r50'),
                    '--cfg-options'] + options)
    output = proc.stdout + proc.stderr
    assert _iters_logged(output) == [1, 2]
    assert 'SyncBN setting(s) in the config to BN' in output
    dumped = Config.fromfile(str(tmp_path / 'r50' / 'fcn_r50-d8_480x480_voc.py'))
    assert dumped.train_dataloader.dataset.datasets[1].data_root == root
    assert dumped.model.backbone.depth == 50
