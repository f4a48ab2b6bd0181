"""Write the dataset reference of MMSegmentation 1.2.2 (run in its own venv).

    env -u PYTHONPATH /tmp/mmseg122/venv/bin/python \
        tests/data/mmseg_reference/datasets/make_reference.py

Builds each synthetic tree of ``tests/test_datasets/synthetic_layouts.py`` (imported by
path, so fcn_mm's tests write the same files) in a temporary folder, loads every case
with MMSegmentation's dataset class and the pipeline ``LoadImageFromFile`` +
``LoadAnnotations``, and writes beside this script:

- ``reference.json``: per case, the file list (``[img, seg_map]`` relative to
  ``data_root``) and the metainfo (``classes``, ``palette``, ``reduce_zero_label``,
  ``label_map``), plus the versions used;
- ``labels.npz``: ``<case>__<index>`` -> the loaded ``gt_seg_map`` (uint8, 12x16);
- ``configs.json``: MMSegmentation's FCN configs for these datasets, merged with its
  own ``_base_`` files: ``model``, the dataloaders, evaluators, optimizer, schedule and
  hooks of each (the values fcn_mm's leaves must hold);
- ``mmseg_configs/fcn/``: copies of those MMSegmentation leaf files, as shipped.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import re
import shutil
import tempfile

import mmengine
import numpy as np

import mmseg
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

MMSEG_CONFIGS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')
# MMSegmentation's FCN-D8 leaves for the datasets of this folder
LEAF = re.compile(r'^fcn_r(50|101)-d8_4xb\d-(40k|80k|160k)_'
                  r'(cityscapes|ade20k|pascal-context|pascal-context-59)-\d+x\d+\.py$')
CONFIG_KEYS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator', 'optim_wrapper', 'param_scheduler',
               'train_cfg', 'val_cfg', 'test_cfg', 'default_hooks')
HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(HERE))))


def load_layouts():
    path = osp.join(REPO, 'tests', 'test_datasets', 'synthetic_layouts.py')
    spec = importlib.util.spec_from_file_location('synthetic_layouts', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    register_all_modules(init_default_scope=True)
    layouts = load_layouts()
    reference = dict(mmseg=mmseg.__version__, mmengine=mmengine.__version__, cases={})
    labels = {}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {name: layouts.build_layout(name, tmp) for name in layouts.LAYOUTS}
        for case, (layout, _, _) in layouts.CASES.items():
            cfg = layouts.case_dataset_cfg(case, roots[layout])
            cfg['pipeline'] = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
            dataset = DATASETS.build(cfg)
            meta = dataset.metainfo
            label_map = meta.get('label_map')
            reference['cases'][case] = dict(
                files=layouts.relative_files(
                    [dataset.get_data_info(i) for i in range(len(dataset))], roots[layout]),
                classes=list(meta['classes']),
                palette=[[int(v) for v in rgb] for rgb in meta['palette']],
                reduce_zero_label=bool(meta['reduce_zero_label']),
                label_map=None if label_map is None else
                [[int(k), int(v)] for k, v in sorted(label_map.items())])
            for i in range(len(dataset)):
                labels[f'{case}__{i}'] = dataset[i]['gt_seg_map'].astype(np.uint8)
    with open(osp.join(HERE, 'reference.json'), 'w', encoding='utf-8') as f:
        json.dump(reference, f, indent=1)
    np.savez_compressed(osp.join(HERE, 'labels.npz'), **labels)
    print({case: len(c['files']) for case, c in reference['cases'].items()})
    write_configs()


def write_configs():
    leaves = sorted(name for name in os.listdir(osp.join(MMSEG_CONFIGS, 'fcn'))
                    if LEAF.match(name))
    copies = osp.join(HERE, 'mmseg_configs', 'fcn')
    os.makedirs(copies, exist_ok=True)
    merged = {}
    for name in leaves:
        path = osp.join(MMSEG_CONFIGS, 'fcn', name)
        shutil.copy(path, copies)
        cfg = mmengine.Config.fromfile(path).to_dict()
        merged[name] = {key: cfg[key] for key in CONFIG_KEYS}
    with open(osp.join(HERE, 'configs.json'), 'w', encoding='utf-8') as f:
        json.dump(dict(mmseg=mmseg.__version__, configs=merged), f)
    print(len(leaves), 'configs:', glob.glob(osp.join(copies, '*.py'))[:2])


if __name__ == '__main__':
    main()
