"""The config's ``speed`` options reach what train.py and test.py run."""
import torch
from mmengine.config import Config

from fcn_mm.apis.speed import apply_speed_config, apply_speed_to_runner
from fcn_mm.utils.speed_options import autocast_dtype


def test_training_compile_becomes_mmengine_compile_key():
    cfg = Config(dict(speed=dict(compile=True)))
    apply_speed_config(cfg, training=True)
    assert cfg.compile is True
    plain = Config(dict())
    apply_speed_config(plain, training=True)
    assert not plain.get('compile')


def test_testing_amp_turns_on_autocast_in_test_loop():
    cfg = Config(dict(speed=dict(amp=True), test_cfg=dict(type='TestLoop')))
    apply_speed_config(cfg, training=False)
    if autocast_dtype(enabled=True) == torch.float32:  # no native bf16: stays fp32
        assert not cfg.test_cfg.get('fp16')
    else:
        assert cfg.test_cfg.fp16 is True and cfg.test_cfg.type == 'TestLoop'


class _FakeRunner:
    def __init__(self, model):
        import logging
        self.model = model
        self.logger = logging.getLogger('speed_setup_test')


def test_channels_last_applied_to_runner_model():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    model.backbone = model[0]
    runner = _FakeRunner(model)
    apply_speed_to_runner(runner, Config(dict(speed=dict(channels_last=True))), training=True)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    untouched = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    apply_speed_to_runner(_FakeRunner(untouched), Config(dict()), training=False)
    assert not untouched[0].weight.is_contiguous(memory_format=torch.channels_last)
