"""Fewer GPUs than the recipe: the one-GPU config, --auto-scale-lr, accumulation checks."""
import importlib.util
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from fcn_mm.apis.training import setup_train_config
from fcn_mm.utils.batch_scaling import (accumulation_mismatches, apply_auto_scale_lr,
                                        total_batch_size)
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.utils.schedule_length import (bind_schedule_to_train_length,
                                          schedule_length_mismatches)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECIPE = osp.join(REPO, 'configs', 'fcn', 'fcn_r50-d8_480x480_voc.py')
ONE_GPU = osp.join(REPO, 'configs', 'fcn', 'fcn_r50-d8_480x480_voc_1gpu.py')


def _norm_types(node, found=None):
    found = set() if found is None else found
    if isinstance(node, dict):
        if 'norm_cfg' in node:
            found.add(node['norm_cfg']['type'])
        for value in node.values():
            _norm_types(value, found)
    return found


def test_one_gpu_config_takes_the_recipes_steps():
    recipe, one = load_config(RECIPE), load_config(ONE_GPU)
    check_config(one, check_checkpoints=False)
    # 4 GPUs x 4 images in the recipe; 1 GPU x 4 images x 4 accumulated iterations here
    assert total_batch_size(recipe, world_size=4)[0] == 16
    total, how = total_batch_size(one, world_size=1)
    assert total == 16 and how == '1 process x batch 4 x 4 accumulated iterations'
    assert one.optim_wrapper.optimizer == recipe.optim_wrapper.optimizer  # LR 0.01
    counts = one.optim_wrapper.accumulative_counts
    assert one.train_cfg.max_iters // counts == recipe.train_cfg.max_iters
    assert one.train_cfg.val_interval // counts == recipe.train_cfg.val_interval
    assert one.default_hooks.checkpoint.interval // counts == \
        recipe.default_hooks.checkpoint.interval
    assert _norm_types(one.model.to_dict()) == {'BN'}
    assert _norm_types(recipe.model.to_dict()) == {'SyncBN'}
    assert bind_schedule_to_train_length(one) == ['param_scheduler[0].end']
    assert one.param_scheduler[0].end == 80000
    assert {k: v for k, v in one.param_scheduler[0].items() if k != 'end'} == \
        {k: v for k, v in recipe.param_scheduler[0].items() if k != 'end'}
    assert schedule_length_mismatches(one) == [] and accumulation_mismatches(one) == []
    assert one.auto_scale_lr == dict(enable=False, base_batch_size=16)


def test_auto_scale_lr_counts_processes_batch_and_accumulation():
    one = load_config(ONE_GPU)
    assert apply_auto_scale_lr(one, world_size=1, enable=True) == 1.0
    assert one.optim_wrapper.optimizer.lr == pytest.approx(0.01)
    assert one.auto_scale_lr.enable is False  # the Runner must not scale again
    two = load_config(ONE_GPU)
    assert apply_auto_scale_lr(two, world_size=2, enable=True) == 2.0
    assert two.optim_wrapper.optimizer.lr == pytest.approx(0.02)
    recipe = load_config(RECIPE)  # batch 4 on one process, no accumulation
    assert apply_auto_scale_lr(recipe, world_size=1, enable=True) == 0.25
    assert recipe.optim_wrapper.optimizer.lr == pytest.approx(0.0025)
    # off unless asked for (flag or auto_scale_lr.enable=True)
    plain = load_config(RECIPE)
    assert apply_auto_scale_lr(plain, world_size=1) is None
    assert plain.optim_wrapper.optimizer.lr == 0.01
    on = load_config(RECIPE, cfg_options={'auto_scale_lr.enable': True})
    assert apply_auto_scale_lr(on, world_size=8) == 2.0


def test_auto_scale_lr_without_a_base_batch_size_says_what_to_add():
    cfg = Config(dict(train_dataloader=dict(batch_size=2),
                      optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))))
    with pytest.raises(KeyError, match=r'--auto-scale-lr needs auto_scale_lr = '
                       r'dict\(enable=False, base_batch_size=N\)'):
        apply_auto_scale_lr(cfg, world_size=1, enable=True)


def test_checkpoints_inside_an_accumulation_window_are_reported():
    cfg = load_config(ONE_GPU, cfg_options={'default_hooks.checkpoint.interval': 1000,
                                            'optim_wrapper.accumulative_counts': 3})
    (message,) = accumulation_mismatches(cfg)
    assert message.startswith('default_hooks.checkpoint.interval=1000 is not a multiple '
                              'of optim_wrapper.accumulative_counts=3')


def test_train_cli_accepts_auto_scale_lr(monkeypatch):
    spec = importlib.util.spec_from_file_location('_train_cli', osp.join(REPO, 'tools',
                                                                         'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', ['train.py', ONE_GPU, '--auto-scale-lr'])
    assert module.parse_args().auto_scale_lr is True


def test_train_setup_scales_the_lr_with_the_flag(tmp_path):
    options = {'model.pretrained': None}
    scaled = setup_train_config(RECIPE, cfg_options=options, work_dir=str(tmp_path),
                                auto_scale_lr=True)
    assert scaled.optim_wrapper.optimizer.lr == pytest.approx(0.0025)
    assert scaled.auto_scale_lr.enable is False
    kept = setup_train_config(ONE_GPU, cfg_options=options, work_dir=str(tmp_path),
                              auto_scale_lr=True)
    assert kept.optim_wrapper.optimizer.lr == pytest.approx(0.01)
    assert kept.param_scheduler[0].end == 80000
