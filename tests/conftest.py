"""Shared pytest setup: fcn_mm's default scope, a guard against registry fallbacks,
one-thread and no-network fixtures, and the opt-in ``slow`` tier (``--run-slow``)."""
import logging
import os
import socket

import pytest
import torch

# Keep each test process to the machine's share of threads; tests are small.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_addoption(parser):
    parser.addoption('--run-slow', action='store_true',
                     help='also run the tests marked slow (minutes of CPU each)')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: a long check, run only with --run-slow')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--run-slow'):
        return
    opt_in = pytest.mark.skip(reason='slow tier: run with --run-slow')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(opt_in)


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
