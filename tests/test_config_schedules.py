"""The 40k leaf runs exactly the schedule of ``_base_/schedules/schedule_40k.py``."""
from pathlib import Path

from mmengine.config import Config

from fcn_mm.utils.config_check import load_config

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'


def test_40k_leaf_matches_schedule_40k():
    leaf = load_config(str(CONFIGS / 'fcn' / 'fcn_r50-d8_480x480_40k_voc.py'))
    schedule = Config.fromfile(str(CONFIGS / '_base_' / 'schedules' / 'schedule_40k.py'))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
                'default_hooks'):
        assert leaf[key] == schedule[key], key
    twenty = load_config(str(CONFIGS / 'fcn' / 'fcn_r50-d8_480x480_voc.py'))
    assert twenty.train_cfg.max_iters == 20000 and leaf.train_cfg.max_iters == 40000
    for key in ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert leaf[key] == twenty[key], key
