"""Misspelt top-level config keys fail the checker; config variables pass."""
import glob
import os
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from fcn_mm.utils.config_check import check_config
from fcn_mm.utils.config_keys import (KNOWN_KEYS, MisspeltConfigKeyError, check_top_level_keys,
                                      closest_known_key)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMSEG_CONFIG = osp.join(REPO, 'tests', 'data', 'mmseg_reference', 'runner_checkpoint',
                        'narrow_voc_mmseg.py')
MMSEG_DATASET_LEAVES = osp.join(REPO, 'tests', 'data', 'mmseg_reference', 'datasets',
                                'mmseg_configs', 'fcn')
# Top-level variables of MMSegmentation 1.x / 0.x configs that nothing reads directly.
CONFIG_VARIABLES = [
    'crop_size', 'norm_cfg', 'data_root', 'dataset_type', 'train_pipeline', 'val_pipeline',
    'img_ratios', 'img_scale', 'checkpoint', 'checkpoint_file', 'pretrained', 'num_classes',
    'backbone_norm_cfg', 'head_norm_cfg', 'ham_norm_cfg', 'img_norm_cfg', 'conv_cfg',
    'act_cfg', 'metainfo', 'max_iters', 'max_epochs', 'vis_backends', 'dataset_aug',
    'dataset_train', 'image_size', 'optimizer', 'albu_train_transforms', 'stride', 'data',
    'seed', 'runner', 'workflow', 'evaluation', 'lr_config', 'log_config',
    'checkpoint_config', 'optimizer_config', 'dist_params', 'cudnn_benchmark', 'gpu_ids',
    'backend_args', 'file_client_args', 'train_dataset', 'val_dataset', 'batch_size',
    'num_workers', 'base_lr', 'palette', 'classes', 'mean', 'std', 'scale', 'interval']


@pytest.mark.parametrize('key, closest', [
    ('trian_cfg', 'train_cfg'), ('val_evalutor', 'val_evaluator'),
    ('optim_wraper', 'optim_wrapper'), ('param_schedular', 'param_scheduler'),
    ('default_hook', 'default_hooks'), ('load_form', 'load_from'), ('modle', 'model'),
    ('test_evaluater', 'test_evaluator'), ('tta_pipline', 'tta_pipeline'),
    ('demo_dta', 'demo_data')])
def test_misspelt_key_fails_the_checker_with_the_closest_key(key, closest):
    cfg = Config(dict(default_scope='fcn_mm', **{key: dict()}))
    with pytest.raises(MisspeltConfigKeyError) as info:
        check_config(cfg, check_checkpoints=False)
    message = str(info.value)
    assert message.startswith(f'Top-level config key {key!r} is read by nothing'), message
    assert f'Did you mean {closest!r}?' in message
    assert isinstance(info.value, KeyError)


def test_config_variables_known_keys_and_private_names_pass():
    for name in CONFIG_VARIABLES + sorted(KNOWN_KEYS) + ['_dataset', '_trian_cfg']:
        assert closest_known_key(name) is None, name
    check_top_level_keys(Config({name: 1 for name in CONFIG_VARIABLES}))


def test_every_config_of_the_repo_and_mmseg_reference_passes(tmp_path):
    files = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
    assert len(files) >= 15
    for path in files:
        check_top_level_keys(Config.fromfile(path))
    os.symlink(osp.join(REPO, 'configs', '_base_'), tmp_path / '_base_')
    shutil.copy(MMSEG_CONFIG, tmp_path)
    mmseg = Config.fromfile(str(tmp_path / osp.basename(MMSEG_CONFIG)))
    assert {'crop_size', 'norm_cfg', 'data_root', 'train_pipeline'} <= set(mmseg)
    check_top_level_keys(mmseg)
    # MMSegmentation's own FCN leaves for Cityscapes, ADE20K and Pascal Context, as shipped,
    # over our _base_ (tests/test_datasets/test_zoo_configs.py compares them with ours)
    shutil.copytree(MMSEG_DATASET_LEAVES, tmp_path / 'fcn')
    leaves = sorted(glob.glob(str(tmp_path / 'fcn' / '*.py')))
    assert len(leaves) == 20
    for path in leaves:
        ported = Config.fromfile(path)
        assert ported.default_scope == 'fcn_mm', path
        check_top_level_keys(ported)
