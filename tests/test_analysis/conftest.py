"""One short demo training run (and a test run with ``--out``) for the plotting-tool tests.

The demo data is shrunk to 8 training and 4 validation images of 64x64 pixels; training
runs 4 iterations of 2 images with a validation after iterations 2 and 4.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
MAX_ITERS, VAL_INTERVAL = 4, 2


def data_options(data_root: str) -> list:
    """``--cfg-options`` that point every tool at the small demo data set."""
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=8',
               'demo_data.num_val=4', 'demo_data.image_size=64']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={data_root}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return options


def _run(args: list) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg')
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _load_tool(relative_path: str):
    """Import a script of ``tools/`` (not a package) as a module."""
    path = osp.join(REPO, relative_path)
    name = '_tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def tools():
    """The analysis tools as modules (``main(argv)`` runs them in this process)."""
    return SimpleNamespace(**{name: _load_tool(f'tools/analysis_tools/{name}.py') for name in
                              ('analyze_logs', 'confusion_matrix', 'browse_dataset',
                               'compare_amp_training')})


@pytest.fixture(scope='session')
def demo_config():
    """(config path, function of a data root -> ``--cfg-options`` for small demo data)."""
    return DEMO_CONFIG, data_options


@pytest.fixture(scope='session')
def demo_run(tmp_path_factory):
    """Train the demo config briefly, then test it with ``--out``; return the paths."""
    tmp = tmp_path_factory.mktemp('analysis_tools')
    data_root, work_dir = str(tmp / 'data'), str(tmp / 'work')
    options = data_options(data_root)
    _run(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options'] + options + [
        f'train_cfg.max_iters={MAX_ITERS}', f'train_cfg.val_interval={VAL_INTERVAL}',
        f'default_hooks.checkpoint.interval={MAX_ITERS}', 'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2'])
    checkpoint = osp.join(work_dir, f'iter_{MAX_ITERS}.pth')
    assert osp.isfile(checkpoint)
    pred_dir = str(tmp / 'pred')
    _run(['tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir', work_dir, '--out', pred_dir,
          '--cfg-options'] + options)
    [metrics_file] = glob.glob(osp.join(work_dir, 'test_metrics_*.json'))
    with open(metrics_file, encoding='utf-8') as f:
        metrics = json.load(f)
    return SimpleNamespace(data_root=data_root, work_dir=work_dir, checkpoint=checkpoint,
                           pred_dir=pred_dir, metrics=metrics, options=options,
                           config=DEMO_CONFIG)
