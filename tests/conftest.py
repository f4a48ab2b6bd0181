"""Shared pytest setup: fcn_mm's default scope, a guard against registry fallbacks,
one-thread and no-network fixtures, and the tiny FCN config."""
import logging
import os
import os.path as osp
import socket

import pytest
import torch

TINY_CONFIG = osp.join(osp.dirname(osp.abspath(__file__)), 'configs', 'fcn_r18-tiny_32x32.py')

# Keep each test process to the machine's share of threads; tests are small.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True, scope='session')
def _amp_probe_cache_in_tmp(tmp_path_factory):
    """The bf16 probe's cache (fcn_mm.utils.bf16_probe) lives in a session tmp dir, never
    in the user's home; subprocesses (tools/train.py) inherit it."""
    old = os.environ.get('FCN_MM_AMP_PROBE_CACHE')
    os.environ['FCN_MM_AMP_PROBE_CACHE'] = str(
        tmp_path_factory.mktemp('amp_probe') / 'amp_probe.json')
    yield
    if old is None:
        os.environ.pop('FCN_MM_AMP_PROBE_CACHE', None)
    else:
        os.environ['FCN_MM_AMP_PROBE_CACHE'] = old


@pytest.fixture(autouse=True, scope='session')
def _fcn_mm_scope():
    from fcn_mm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    yield


class _FallbackCatcher(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if 'Failed to search registry' in msg or 'Failed to import' in msg:
            self.messages.append(msg)


@pytest.fixture
def registry_fallback_log():
    """Collects mmengine's 'Failed to search registry' / 'Failed to import' log lines."""
    from mmengine.logging import MMLogger
    catcher = _FallbackCatcher()
    logger = MMLogger.get_current_instance()
    logger.addHandler(catcher)
    yield catcher.messages
    logger.removeHandler(catcher)


@pytest.fixture
def one_thread():
    """Small ops: one intra-op thread avoids spin-waiting on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_network(monkeypatch):
    """Any socket or torchvision/hub download attempt fails the test."""
    def refuse(*args, **kwargs):
        raise OSError('network access attempted in a no-network test')
    monkeypatch.setattr(socket, 'socket', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', refuse)


@pytest.fixture(scope='session')
def tiny_config() -> str:
    """Path of a ResNetV1c-18 FCN at 1/16 width with 32x32 crops (BN, 21 classes)."""
    return TINY_CONFIG


@pytest.fixture
def tiny_model():
    """The tiny config's model, built offline, in eval mode."""
    from fcn_mm.models.builder import build_offline_model
    from fcn_mm.utils.config_check import load_config
    return build_offline_model(load_config(TINY_CONFIG)).eval()
