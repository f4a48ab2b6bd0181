"""Fixtures for the command-line tests (helpers in tools_cli_utils.py)."""
import os.path as osp

import pytest
from tools_cli_utils import REPO, TINY_CONFIG, make_voc_folder, run_cli


@pytest.fixture(scope='session')
def voc_root(tmp_path_factory) -> str:
    return make_voc_folder(str(tmp_path_factory.mktemp('voc') / 'VOC2012'))


@pytest.fixture(scope='session')
def tiny_config(voc_root, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp('cfg') / 'fcn_tiny_voc.py'
    path.write_text(TINY_CONFIG.format(repo=REPO, root=voc_root))
    return str(path)


@pytest.fixture(scope='session')
def trained(tiny_config, tmp_path_factory) -> dict:
    """Train the tiny config for 2 iterations once; later tests reuse its checkpoint."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    proc = run_cli(['tools/train.py', tiny_config, '--work-dir', work_dir])
    return dict(work_dir=work_dir, checkpoint=osp.join(work_dir, 'iter_2.pth'),
                output=proc.stdout + proc.stderr)
