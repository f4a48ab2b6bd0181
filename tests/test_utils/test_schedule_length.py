"""Scheduler ``end=None`` follows train_cfg.max_iters; mismatches are reported."""
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim.scheduler import PolyLR

from fcn_mm.apis.training import setup_train_config
from fcn_mm.utils.config_check import load_config
from fcn_mm.utils.schedule_length import (bind_schedule_to_train_length,
                                          schedule_length_mismatches)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
VOC = osp.join(REPO, 'configs', 'fcn', 'fcn_r50-d8_480x480_voc.py')


def _poly_lr_after(scheduler_cfg: dict, steps: int, lr: float) -> float:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr)
    kwargs = {k: v for k, v in scheduler_cfg.items() if k != 'type'}
    scheduler = PolyLR(optimizer, **kwargs)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]['lr']


def test_demo_schedule_follows_max_iters_override(tmp_path):
    data_root = str(tmp_path / 'demo')
    options = {'train_cfg.max_iters': 300, 'demo_data.data_root': data_root,
               'demo_data.num_train': 2, 'demo_data.num_val': 1,
               'demo_data.image_size': 32}
    cfg = setup_train_config(DEMO, cfg_options=options, work_dir=str(tmp_path / 'w'))
    warmup, poly = cfg.param_scheduler
    assert warmup.end == 50  # the warm-up keeps its own length
    assert poly.end == 300 and cfg.train_cfg.max_iters == 300
    assert schedule_length_mismatches(cfg) == []
    # the LR now reaches eta_min at the last iteration (it stayed near 4.6e-3 before)
    assert _poly_lr_after(dict(poly), 300, cfg.optim_wrapper.optimizer.lr) == \
        pytest.approx(poly.eta_min, abs=1e-12)
    plain = load_config(DEMO)
    assert plain.param_scheduler[1].end is None  # bound only by the train set-up
    assert bind_schedule_to_train_length(plain) == ['param_scheduler[1].end']
    assert plain.param_scheduler[1].end == plain.train_cfg.max_iters > 300


def test_a_decay_that_would_begin_after_training_is_left_out():
    cfg = load_config(DEMO, cfg_options={'train_cfg.max_iters': 3})
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        assert bind_schedule_to_train_length(cfg) == []
    finally:
        logger.removeHandler(handler)
    (warmup,) = cfg.param_scheduler  # the decay after the 50-iteration warm-up is gone
    assert warmup.type == 'LinearLR' and warmup.end == 50
    assert ('param_scheduler[1] (PolyLR) begins at 50, where training already ends '
            '(train_cfg.max_iters=3): it is left out of this run') in \
        [r.getMessage() for r in records]
    nested = Config(dict(train_cfg=dict(max_iters=10), param_scheduler=dict(
        backbone=[dict(type='PolyLR', begin=20, end=None, by_epoch=False)],
        head=[dict(type='PolyLR', begin=0, end=None, by_epoch=False)])))
    assert bind_schedule_to_train_length(nested) == ['param_scheduler.head[0].end']
    assert nested.param_scheduler.backbone == [] and nested.param_scheduler.head[0].end == 10


def test_mismatch_message_names_both_values_and_the_key(caplog):
    cfg = load_config(VOC, cfg_options={'train_cfg.max_iters': 300})
    (message,) = schedule_length_mismatches(cfg)
    assert message.startswith('param_scheduler[0] (PolyLR) ends at iteration 20000 '
                              '(param_scheduler[0].end) but training runs '
                              'train_cfg.max_iters=300: the schedule is cut off')
    assert 'Set param_scheduler[0].end=300, or end=None to follow train_cfg.max_iters' \
        in message
    with open(osp.join(REPO, 'docs', 'config.md'), encoding='utf-8') as f:
        assert message in f.read(), 'docs/config.md shows another message'
    longer = load_config(VOC, cfg_options={'train_cfg.max_iters': 30000})
    (message,) = schedule_length_mismatches(longer)
    assert 'ends at iteration 20000' in message and 'max_iters=30000' in message
    assert 'from iteration 20000 on, the value stays at its final one' in message
    assert schedule_length_mismatches(load_config(VOC)) == []


def test_furthest_scheduler_counts_and_t_max_must_fit():
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1000),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
            dict(type='CosineAnnealingLR', T_max=800, begin=100, end=1000,
                 by_epoch=False)]))
    (message,) = schedule_length_mismatches(cfg)  # warm-up ending at 100 is fine
    assert message.startswith('param_scheduler[1] (CosineAnnealingLR): '
                              'param_scheduler[1].T_max=800 but its end - begin is 900')
    cfg.param_scheduler[1].T_max = None
    assert schedule_length_mismatches(cfg) == []
    epochs = Config(dict(train_cfg=dict(max_epochs=12), param_scheduler=dict(
        type='MultiStepLR', milestones=[8, 11], end=10)))
    (message,) = schedule_length_mismatches(epochs)
    assert 'ends at epoch 10 (param_scheduler.end)' in message
    assert 'Set param_scheduler.end=12' in message


def test_end_none_without_a_training_length_is_an_error():
    cfg = Config(dict(param_scheduler=[dict(type='PolyLR', end=None, by_epoch=False)]))
    with pytest.raises(ValueError, match=r'param_scheduler\[0\]\.end=None means "end '
                       r'with training", but the config sets no train_cfg\.max_iters'):
        bind_schedule_to_train_length(cfg)


def test_train_setup_logs_the_mismatch(tmp_path):
    messages = []

    class Catch(logging.Handler):
        def emit(self, record):
            messages.append((record.levelno, record.getMessage()))

    handler = Catch()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        setup_train_config(VOC, work_dir=str(tmp_path),
                           cfg_options={'train_cfg.max_iters': 300,
                                        'model.pretrained': None})
    finally:
        logger.removeHandler(handler)
    warnings = [m for level, m in messages if level == logging.WARNING]
    assert any('ends at iteration 20000' in m and 'max_iters=300' in m for m in warnings)
