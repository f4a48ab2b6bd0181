"""EarlyStoppingHook on mIoU and on the validation loss stops fcn_mm's loop, keeps the
best checkpoint and logs why (the train set-up and Runner of tools/train.py, in process)."""
import glob
import os.path as osp

import pytest
import torch

from fcn_mm.apis.training import build_runner, setup_train_config
from fcn_mm.utils.safe_loading import load_checkpoint_file

MAX_ITERS = 30


def _train(tiny_config, work_dir, monitor, save_best, extra=None):
    options = {
        'train_cfg.max_iters': MAX_ITERS, 'train_cfg.val_interval': 1,
        # no learning: the monitored value cannot improve
        'optim_wrapper.optimizer.lr': 0.0, 'optim_wrapper.optimizer.momentum': 0.0,
        'default_hooks.checkpoint.interval': MAX_ITERS,
        'default_hooks.checkpoint.save_best': save_best,
        'default_hooks.logger.interval': 10,
        'custom_hooks': [dict(type='EarlyStoppingHook', monitor=monitor, patience=2)],
        **(extra or {})}
    cfg = setup_train_config(tiny_config, cfg_options=options, work_dir=work_dir)
    runner = build_runner(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner.train()
    finally:
        torch.set_num_threads(threads)
    (log_file,) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log_file, encoding='utf-8') as f:
        return runner, f.read()


@pytest.mark.parametrize('monitor, extra', [
    ('mIoU', None),
    ('val_loss', {'val_cfg.compute_loss': True}),
])
def test_a_run_that_does_not_improve_stops_with_the_reason(tiny_config, tmp_path, monitor,
                                                           extra):
    work_dir = str(tmp_path)
    runner, log = _train(tiny_config, work_dir, monitor, monitor, extra)
    # the first validation sets the best value, two more without improvement stop it
    assert runner.iter == 3
    assert 'the monitored metric did not improve in the last 2 records' in log
    (best,) = glob.glob(osp.join(work_dir, f'best_{monitor}_iter_*.pth'))
    assert f'Training stopped early at iteration 3/{MAX_ITERS}' in log
    assert f'best checkpoint: {best}' in log
    ckpt = load_checkpoint_file(best)
    assert ckpt['meta']['iter'] in (1, 2, 3) and 'state_dict' in ckpt
    if monitor == 'val_loss':
        assert 'val_loss: ' in log
    assert not glob.glob(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))
