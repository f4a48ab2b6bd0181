"""The Cityscapes, ADE20K, Pascal Context (60/59) and COCO-Stuff 164k FCN configs.

- Each of MMSegmentation 1.2.2's own FCN leaves for these datasets (copied, as shipped,
  to ``tests/data/mmseg_reference/datasets/mmseg_configs/fcn/``) loads in fcn_mm over
  fcn_mm's ``configs/_base_`` (scope ``fcn_mm``, as docs/config.md describes) and merges to
  exactly fcn_mm's leaf of the same recipe, which tests/test_configs.py checks and builds
  (tests/test_utils/test_config_keys.py runs the key check on the copies themselves).
- fcn_mm's leaf holds the values MMSegmentation merges from its own ``_base_`` files
  (``configs.json``, written by MMSegmentation: model, dataloaders, evaluators,
  optimizer, schedule, hooks).
- Every new leaf builds and trains 2 iterations on its synthetic tree, in process, with
  the model shrunk (ResNetV1c-18 at 1/16 width), 32x32 crops, batch 1 and no validation.
  Shrunk, an R101 leaf is its R50 leaf (asserted), so the R50 leaf's run covers both.
"""
import glob
import json
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.runner import Runner
from synthetic_layouts import build_layout

from fcn_mm.apis.training import build_runner, setup_train_config
from fcn_mm.utils.config_check import load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REF_DIR = osp.join(REPO, 'tests', 'data', 'mmseg_reference', 'datasets')
MMSEG_LEAVES = sorted(osp.basename(p) for p in glob.glob(
    osp.join(REF_DIR, 'mmseg_configs', 'fcn', '*.py')))
MMSEG_NAME = re.compile(r'^fcn_(?P<model>r\d+-d8)_4xb\d-(?P<schedule>\d+k)_(?P<data>[a-z0-9-]+?)'
                        r'-(?P<crop>\d+x\d+)\.py$')
# the layout of each dataset base file, by the dataset part of a leaf name
LAYOUT_OF = {'cityscapes': 'cityscapes', 'ade20k': 'ade', 'pascal_context': 'pascal_context',
             'pascal_context_59': 'pascal_context', 'coco-stuff164k': 'coco_stuff164k'}


def dataset_of(leaf: str) -> str:
    """``fcn_r50-d8_480x480_40k_pascal_context_59.py`` -> ``pascal_context_59``."""
    parts = leaf[:-len('.py')].split('_', 4)
    return parts[4] if len(parts) == 5 else ''


NEW_LEAVES = sorted(
    osp.basename(p) for p in glob.glob(osp.join(REPO, 'configs', 'fcn', 'fcn_r*-d8_*.py'))
    if dataset_of(osp.basename(p)) in LAYOUT_OF)
R50_LEAVES = [name for name in NEW_LEAVES if name.startswith('fcn_r50-d8_')]
R101_LEAVES = [name for name in NEW_LEAVES if name.startswith('fcn_r101-d8_')]


# MMSegmentation 1.2.2's file of this name inherits the *40k* R50 leaf, so it trains 40k
# iterations; it merges to fcn_mm's 40k R101 leaf. fcn_mm's 80k R101 leaf trains 80k
# (checked against MMSegmentation's 80k R50 schedule below).
MERGES_TO = {'fcn_r101-d8_4xb4-80k_pascal-context-480x480.py':
             'fcn_r101-d8_480x480_40k_pascal_context.py'}
SCHEDULE_KEYS = ('optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks')


def fcn_mm_name(mmseg_name: str) -> str:
    """MMSegmentation 1.x's name -> fcn_mm's, e.g. ``fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py``
    -> ``fcn_r50-d8_512x1024_40k_cityscapes.py``."""
    match = MMSEG_NAME.match(mmseg_name)
    assert match, f'unexpected MMSegmentation config name {mmseg_name}'
    data = match['data'].replace('pascal-context', 'pascal_context').replace('-59', '_59')
    return f"fcn_{match['model']}_{match['crop']}_{match['schedule']}_{data}.py"


def _plain(value):
    """JSON-normal form (tuples -> lists), data_root without a trailing slash, and no
    ``avg_non_ignore=False`` (MMSegmentation's default, which fcn_mm's model base spells out).
    """
    value = json.loads(json.dumps(value))

    def strip(node):
        if isinstance(node, dict):
            return {k: (v.rstrip('/') if k == 'data_root' and isinstance(v, str) else strip(v))
                    for k, v in node.items() if not (k == 'avg_non_ignore' and v is False)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return strip(value)


def _mmseg_merged():
    with open(osp.join(REF_DIR, 'configs.json'), encoding='utf-8') as f:
        reference = json.load(f)
    assert reference['mmseg'] == '1.2.2'
    return reference['configs']


MMSEG_MERGED = _mmseg_merged()


def test_every_mmseg_leaf_has_a_reference_and_an_fcn_mm_leaf():
    assert len(MMSEG_LEAVES) == 20 and sorted(MMSEG_MERGED) == MMSEG_LEAVES
    ours = {fcn_mm_name(name) for name in MMSEG_LEAVES}
    assert ours <= set(NEW_LEAVES)
    # the rest are the COCO-Stuff leaves, a recipe MMSegmentation has for other heads only
    assert sorted(set(NEW_LEAVES) - ours) == [
        f'fcn_{m}-d8_512x512_{s}_coco-stuff164k.py' for m in ('r101', 'r50')
        for s in ('160k', '80k')]


def _leaf_of(mmseg_name: str) -> str:
    return MERGES_TO.get(mmseg_name, fcn_mm_name(mmseg_name))


@pytest.fixture(scope='module')
def ported_dir(tmp_path_factory):
    """MMSegmentation's leaves beside a link to fcn_mm's ``configs/_base_``."""
    root = tmp_path_factory.mktemp('ported')
    os.symlink(osp.join(REPO, 'configs', '_base_'), root / '_base_')
    shutil.copytree(osp.join(REF_DIR, 'mmseg_configs', 'fcn'), root / 'fcn')
    return root / 'fcn'


@pytest.mark.parametrize('mmseg_name', MMSEG_LEAVES)
def test_mmseg_leaf_ports_and_fcn_mm_leaf_holds_its_values(mmseg_name, ported_dir):
    name = _leaf_of(mmseg_name)
    ours = load_config(osp.join(REPO, 'configs', 'fcn', name)).to_dict()
    expected = MMSEG_MERGED[mmseg_name]
    for key, value in expected.items():
        assert _plain(ours[key]) == _plain(value), f'{name}: {key}'
    # MMSegmentation's leaf over fcn_mm's bases (scope fcn_mm) is fcn_mm's leaf; the
    # checker and the model build of fcn_mm's leaves run in tests/test_configs.py
    ported = load_config(str(ported_dir / mmseg_name))
    assert ported.default_scope == 'fcn_mm'
    assert _plain(ported.to_dict()) == _plain(ours)


def test_r101_context_80k_leaf_trains_80k():
    cfg = load_config(osp.join(REPO, 'configs', 'fcn',
                               'fcn_r101-d8_480x480_80k_pascal_context.py')).to_dict()
    expected = MMSEG_MERGED['fcn_r50-d8_4xb4-80k_pascal-context-480x480.py']
    for key in SCHEDULE_KEYS:
        assert _plain(cfg[key]) == _plain(expected[key]), key
    assert cfg['train_cfg']['max_iters'] == 80000
    assert cfg['model']['backbone']['depth'] == 101


def _shrink_pipeline(pipeline, crop: int = 32):
    """``crop`` x ``crop`` crops; resize scales / 16 (the transforms and their order stay)."""
    for transform in pipeline:
        if transform['type'] == 'RandomResize':
            transform['scale'] = tuple(max(32, s // 16) for s in transform['scale'])
        elif transform['type'] == 'RandomCrop':
            transform['crop_size'] = (crop, crop)
    return pipeline


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    tree = str(tmp_path_factory.mktemp('zoo_data'))
    return {layout: build_layout(layout, tree, height=24, width=32)
            for layout in set(LAYOUT_OF.values())}


def test_new_leaves_are_found():
    assert len(NEW_LEAVES) == 24, NEW_LEAVES
    assert len(R50_LEAVES) == len(R101_LEAVES) == 12


@pytest.fixture
def quiet_runner(monkeypatch):
    """A Runner that skips what costs seconds and is not under test here: the
    environment report (subprocesses) and the yapf-formatted config log and dump."""
    monkeypatch.setattr(Runner, '_log_env', lambda self, env_cfg: None)
    monkeypatch.setattr(Runner, 'dump_config', lambda self: None)


def _tiny_options(data_root: str) -> dict:
    """The 2-iteration run: ResNetV1c-18 at 1/16 width, batch 1, no validation."""
    return {
        'model.pretrained': None,
        'model.data_preprocessor.size': (32, 32),
        'model.backbone.depth': 18, 'model.backbone.stem_channels': 8,
        'model.backbone.base_channels': 4,
        'model.decode_head.in_channels': 32, 'model.decode_head.channels': 8,
        'model.auxiliary_head.in_channels': 16, 'model.auxiliary_head.channels': 4,
        'train_dataloader.batch_size': 1, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': data_root,
        'train_dataloader.dataset.serialize_data': False,  # its gc.collect() costs a second
        'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
        'test_dataloader': None, 'test_cfg': None, 'test_evaluator': None,
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': 1000, 'default_hooks.checkpoint.save_last': False,
        'default_hooks.logger.interval': 1,
        'env_cfg.cudnn_benchmark': False,
    }


@pytest.mark.parametrize('name', R101_LEAVES)
def test_r101_leaf_shrunk_is_its_r50_leaf_shrunk(name):
    # the R101 leaves change depth and ImageNet weights only, which the tiny run
    # replaces, so the R50 leaf's 2-iteration run below is also theirs (their full
    # models are built in tests/test_configs.py and counted in test_model_table.py)
    options = _tiny_options('data')
    r101 = load_config(osp.join(REPO, 'configs', 'fcn', name), cfg_options=options)
    r50 = load_config(osp.join(REPO, 'configs', 'fcn', name.replace('r101-d8', 'r50-d8')),
                      cfg_options=options)
    assert _plain(r101.to_dict()) == _plain(r50.to_dict())


@pytest.mark.parametrize('name', R50_LEAVES)
def test_leaf_trains_two_iterations_on_its_synthetic_tree(name, data_roots, tmp_path,
                                                          quiet_runner):
    cfg = setup_train_config(osp.join(REPO, 'configs', 'fcn', name),
                             cfg_options=_tiny_options(data_roots[LAYOUT_OF[dataset_of(name)]]),
                             work_dir=str(tmp_path))
    crop = 32
    if cfg.model.decode_head.align_corners:  # (crop - 1) a multiple of (crop / 8 - 1)
        crop = 33
        cfg.model.data_preprocessor.size = (crop, crop)
    _shrink_pipeline(cfg.train_dataloader.dataset.pipeline, crop)
    num_classes = cfg.model.decode_head.num_classes
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2
    dataset = runner.train_loop.dataloader.dataset
    dataset = getattr(dataset, 'dataset', dataset)  # inside fcn_mm's SampleSeededDataset
    assert type(dataset).__name__ == cfg.train_dataloader.dataset.type
    assert len(dataset.metainfo['classes']) == num_classes
    assert runner.model.decode_head.conv_seg.out_channels == num_classes
    losses = runner.message_hub.get_scalar('train/decode.loss_ce').data[0]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
