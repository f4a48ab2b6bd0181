"""The steps of tools/train.py and tools/test.py, called in-process."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from fcn_mm.apis.testing import enable_show_dir, enable_tta, write_metrics_json
from fcn_mm.apis.training import AUTO_RESUME, apply_resume, build_runner, git_hash, resolve_work_dir


def test_work_dir_priority_cli_then_config_then_stem():
    cfg = Config(dict(work_dir='from_cfg'))
    assert resolve_work_dir(cfg, 'configs/fcn/x_y.py', 'from_cli') == 'from_cli'
    cfg = Config(dict(work_dir='from_cfg'))
    assert resolve_work_dir(cfg, 'configs/fcn/x_y.py') == 'from_cfg'
    cfg = Config(dict())
    assert resolve_work_dir(cfg, 'configs/fcn/x_y.py') == osp.join('./work_dirs', 'x_y')


def test_resume_auto_picks_the_newest_complete_checkpoint(tmp_path):
    import torch
    torch.save({'meta': {'iter': 2}}, str(tmp_path / 'iter_2.pth'))
    torch.save({'meta': {'iter': 4}}, str(tmp_path / 'iter_4.pth'))
    data = (tmp_path / 'iter_4.pth').read_bytes()
    (tmp_path / 'iter_4.pth').write_bytes(data[:len(data) // 2])  # a torn write
    cfg = Config(dict(work_dir=str(tmp_path), load_from='pretrained.pth'))
    apply_resume(cfg, AUTO_RESUME)
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_2.pth')
    cfg = Config(dict(work_dir=str(tmp_path / 'empty')))
    apply_resume(cfg, AUTO_RESUME)
    assert cfg.resume is True and cfg.load_from is None


def test_resume_with_a_path(tmp_path):
    ckpt = tmp_path / 'iter_2.pth'
    ckpt.write_bytes(b'x')
    cfg = Config(dict())
    apply_resume(cfg, str(ckpt))
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    with pytest.raises(FileNotFoundError, match='--resume .*missing.pth'):
        apply_resume(Config(dict()), str(tmp_path / 'missing.pth'))
    cfg = Config(dict(resume=False))
    apply_resume(cfg, None)
    assert cfg.resume is False


def test_tta_wraps_the_model_and_swaps_every_test_pipeline():
    cfg = Config(dict(
        model=dict(type='EncoderDecoder'), tta_model=dict(type='SegTTAModel'),
        tta_pipeline=[dict(type='LoadImageFromFile'), dict(type='TestTimeAug')],
        test_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(type='PascalVOCDataset', pipeline=[]),
            dict(type='PascalVOCDataset', pipeline=[])]))))
    enable_tta(cfg)
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.type == 'EncoderDecoder'
    for dataset in cfg.test_dataloader.dataset.datasets:
        assert dataset.pipeline[1].type == 'TestTimeAug'
    with pytest.raises(KeyError, match='--tta needs `tta_pipeline`'):
        enable_tta(Config(dict(tta_model=dict(type='SegTTAModel'))))


def test_show_dir_turns_on_the_visualization_hook():
    cfg = Config(dict(default_hooks=dict(
        visualization=dict(type='SegVisualizationHook', draw=False))))
    enable_show_dir(cfg, '/tmp/show')
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.default_hooks.visualization.test_out_dir == '/tmp/show'
    with pytest.raises(KeyError, match='default_hooks.visualization'):
        enable_show_dir(Config(dict(default_hooks=dict())), '/tmp/show')


def test_metrics_json_holds_the_values(tmp_path):
    import numpy as np
    path = write_metrics_json({'aAcc': np.float64(91.5), 'mIoU': 40.25, 'mAcc': 50.0},
                              str(tmp_path), '20240101_000000', 'cfg.py', 'ckpt.pth')
    assert path == str(tmp_path / 'test_metrics_20240101_000000.json')
    record = json.loads(open(path).read())
    assert record['aAcc'] == 91.5 and record['mIoU'] == 40.25
    assert record['checkpoint'] == 'ckpt.pth'


def test_runner_type_goes_through_the_registry(monkeypatch):
    from fcn_mm.registry import RUNNERS
    seen = {}
    monkeypatch.setattr(RUNNERS, 'build', lambda cfg: seen.setdefault('cfg', cfg))
    cfg = Config(dict(runner_type='MyRunner'))
    assert build_runner(cfg) is cfg


def test_git_hash_is_a_hex_string_or_unknown():
    value = git_hash()
    assert value == 'unknown' or all(c in '0123456789abcdef' for c in value)


def test_prepare_data_generates_the_demo_set_only_when_configured(tmp_path):
    from fcn_mm.apis.training import prepare_data
    assert prepare_data(Config(dict())) is None
    root = str(tmp_path / 'demo')
    cfg = Config(dict(demo_data=dict(data_root=root, num_train=2, num_val=1,
                                     image_size=32)))
    assert prepare_data(cfg) == root
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt')) as f:
        assert len(f.read().split()) == 2


def _checkpoints(folder, *steps):
    import torch
    folder.mkdir(exist_ok=True)
    for step in steps:
        torch.save({'meta': {'iter': step}}, str(folder / f'iter_{step}.pth'))
    return folder


def test_a_worker_restarted_by_torchrun_resumes_from_the_newest_checkpoint(tmp_path,
                                                                             monkeypatch):
    work_dir = _checkpoints(tmp_path / 'work', 1, 3)
    (work_dir / '.iter_4.pth.tmp-1-abc').write_bytes(b'half')  # a save cut short
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', '1')
    cfg = Config(dict(work_dir=str(work_dir)))
    apply_resume(cfg, None)  # no --resume on the command line
    assert cfg.resume is True and cfg.load_from == str(work_dir / 'iter_3.pth')
    given = _checkpoints(tmp_path / 'elsewhere', 7)
    cfg = Config(dict(work_dir=str(work_dir)))
    apply_resume(cfg, str(given / 'iter_7.pth'))  # the work dir's progress wins
    assert cfg.load_from == str(work_dir / 'iter_3.pth')
    cfg = Config(dict(work_dir=str(tmp_path / 'empty')))
    apply_resume(cfg, str(given / 'iter_7.pth'))  # nothing saved yet: the given file
    assert cfg.resume is True and cfg.load_from == str(given / 'iter_7.pth')
    cfg = Config(dict(work_dir=str(tmp_path / 'empty')))
    apply_resume(cfg, None)
    assert cfg.resume is True and cfg.load_from is None


def test_first_attempt_under_torchrun_resumes_only_when_asked(tmp_path, monkeypatch):
    work_dir = _checkpoints(tmp_path / 'work', 2)
    for value in ('0', None):
        if value is None:
            monkeypatch.delenv('TORCHELASTIC_RESTART_COUNT', raising=False)
        else:
            monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', value)
        cfg = Config(dict(work_dir=str(work_dir)))
        apply_resume(cfg, None)
        assert 'resume' not in cfg and 'load_from' not in cfg


def test_a_bad_restart_count_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', 'x')
    with pytest.raises(ValueError, match="TORCHELASTIC_RESTART_COUNT='x'"):
        apply_resume(Config(dict(work_dir=str(tmp_path))), None)
