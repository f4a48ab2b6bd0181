"""Unusable work dirs fail at start naming the path; a bad config fails before data loads."""
import os
import os.path as osp

import pytest
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS

import _reliability_toy as toy
from fcn_mm.utils.work_dir import WorkDirError, check_work_dir


def test_work_dir_below_a_regular_file_names_the_path(tmp_path):
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('x')
    wanted = str(blocker / 'run1')
    with pytest.raises(WorkDirError, match=f'Cannot create the work dir "{wanted}": '
                       f'"{blocker}" is a file, not a folder'):
        check_work_dir(wanted)
    with pytest.raises(WorkDirError, match=f'"{blocker}" is a file, not a folder'):
        check_work_dir(str(blocker))


def test_work_dir_without_enough_space_names_the_path(tmp_path):
    with pytest.raises(WorkDirError, match=f'"{tmp_path}" has only .* MiB free'):
        check_work_dir(str(tmp_path), min_free_mb=2**40)


def test_good_work_dir_is_created_and_left_clean(tmp_path):
    path = check_work_dir(str(tmp_path / 'a' / 'b'))
    assert path == str(tmp_path / 'a' / 'b') and os.listdir(path) == []
    with pytest.raises(TypeError, match='work_dir must be a path'):
        check_work_dir(3)


def test_checkpoint_hook_checks_the_work_dir_at_start(tmp_path):
    data_root = toy.make_voc(str(tmp_path / 'voc'), num=2)
    cfg = toy.make_cfg(str(tmp_path / 'work'), data_root, max_iters=1, name='wd_start')
    cfg['default_hooks']['checkpoint']['min_free_mb'] = 2**40  # "full" for this run
    runner = toy.build_runner(cfg)
    with pytest.raises(WorkDirError, match=f'"{tmp_path / "work"}" has only'):
        runner.train()
    assert not [n for n in os.listdir(tmp_path / 'work') if n.endswith('.pth')]


@ROOT_TRANSFORMS.register_module(name='RelTouchTransform', force=True)
class TouchTransform:
    """Marks (by a file) that a sample was loaded, then passes it on."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, results):
        open(self.marker, 'a').close()
        return results


@pytest.mark.timeout(120)
def test_config_that_cannot_be_built_fails_before_any_data_is_loaded(tmp_path):
    data_root = toy.make_voc(str(tmp_path / 'voc'), num=2)
    marker = str(tmp_path / 'loaded')
    cfg = toy.make_cfg(str(tmp_path / 'work'), data_root, max_iters=2, num_workers=2,
                       name='bad_cfg', optimizer=dict(type='SGD', lr=0.01, momentun=0.9))
    cfg['train_dataloader']['dataset']['pipeline'].insert(
        0, dict(type='RelTouchTransform', marker=marker))
    runner = toy.build_runner(cfg)
    with pytest.raises(TypeError, match='momentun'):
        runner.train()
    assert not osp.exists(marker)
