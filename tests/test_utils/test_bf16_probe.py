"""The bf16 probe: its measurement, its cache (hit, misses, corrupt file) and the decision."""
import json
import os

import pytest
import torch

from fcn_mm.utils import bf16_probe, device
from fcn_mm.utils.device import BF16_MARGIN, cpu_bf16_decision


@pytest.fixture
def probe(monkeypatch, tmp_path):
    """A cache file in tmp and a measurement that answers ``probe.ratio``."""
    path = tmp_path / 'cache' / 'amp_probe.json'
    monkeypatch.setenv(bf16_probe.CACHE_ENV, str(path))
    monkeypatch.setattr(bf16_probe, '_MEMO', {})
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: True)
    monkeypatch.setattr(bf16_probe, 'machine_loaded', lambda: False)

    class Probe:
        ratio = 0.7
        calls = []
        file = path

        @staticmethod
        def forget():
            bf16_probe._MEMO.clear()  # a new process: only the file remembers

    def measure(training, **kwargs):
        Probe.calls.append(training)
        return dict(fp32_s=0.01 * Probe.ratio, bf16_s=0.01, ratio=Probe.ratio)

    monkeypatch.setattr(bf16_probe, 'measure_bf16_speedup', measure)
    return Probe


def test_the_real_measurement_times_both_dtypes(one_thread):
    result = bf16_probe.measure_bf16_speedup(training=True, repeat=2, budget_s=0.0)
    assert isinstance(bf16_probe.machine_loaded(), bool)
    assert result['fp32_s'] > 0 and result['bf16_s'] > 0
    assert result['ratio'] == pytest.approx(result['fp32_s'] / result['bf16_s'])


def test_cache_path_env_var_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv(bf16_probe.CACHE_ENV, str(tmp_path / 'x.json'))
    assert bf16_probe.probe_cache_path() == str(tmp_path / 'x.json')
    monkeypatch.delenv(bf16_probe.CACHE_ENV)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert bf16_probe.probe_cache_path() == str(tmp_path / 'xdg' / 'fcn_mm' / 'amp_probe.json')


def test_cache_hit_and_misses_on_another_thread_count_or_torch(probe, monkeypatch):
    first = bf16_probe.bf16_speedup(training=True)
    assert probe.calls == [True] and not first['cached'] and first['ratio'] == 0.7
    entries = json.loads(probe.file.read_text())['entries']
    assert list(entries) == [bf16_probe.probe_key(True)]
    assert not [f for f in os.listdir(probe.file.parent) if f.endswith('.tmp')]  # atomic
    probe.forget()
    probe.ratio = 3.0  # a new measurement would say otherwise: the cache answers
    again = bf16_probe.bf16_speedup(training=True)
    assert again['cached'] and again['ratio'] == 0.7 and probe.calls == [True]
    bf16_probe.bf16_speedup(training=False)  # inference is measured on its own
    assert probe.calls == [True, False]
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        probe.forget()
        assert bf16_probe.bf16_speedup(training=True)['ratio'] == 3.0
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(torch, '__version__', '9.9.9')
    probe.forget()
    assert not bf16_probe.bf16_speedup(training=True)['cached']
    assert probe.calls == [True, False, True, True]
    assert len(json.loads(probe.file.read_text())['entries']) == 4


@pytest.mark.parametrize('content', ['{not json', '{"version": 1, "entries": [1]}',
                                     '{"version": 0, "entries": {}}'])
def test_a_corrupt_cache_is_ignored_with_a_warning_and_rewritten(probe, content):
    probe.file.parent.mkdir(parents=True)
    probe.file.write_text(content)
    with pytest.warns(UserWarning, match=f'AMP probe cache {probe.file} is unreadable'):
        result = bf16_probe.bf16_speedup(training=False)
    assert result['ratio'] == 0.7 and probe.calls == [False]
    data = json.loads(probe.file.read_text())
    assert data['version'] == 1 and bf16_probe.probe_key(False) in data['entries']


@pytest.mark.parametrize('ratio,use_bf16', [(0.7, False), (BF16_MARGIN - 0.01, False),
                                            (BF16_MARGIN, True), (2.0, True)])
def test_decision_needs_the_margin(probe, ratio, use_bf16):
    probe.ratio = ratio
    decision = cpu_bf16_decision(training=True, force_hint="optim_wrapper.dtype='bfloat16'")
    assert decision.use_bf16 is use_bf16 and decision.ratio == ratio
    assert f'{ratio:.2f}x' in decision.reason and '\n' not in decision.reason
    if not use_bf16:
        assert decision.reason.startswith('float32 without autocast')
        assert "force bf16 with optim_wrapper.dtype='bfloat16'" in decision.reason
        assert f'below the {BF16_MARGIN:.2f}x margin' in decision.reason


def test_a_probe_on_a_loaded_machine_is_used_but_not_cached(probe, monkeypatch):
    monkeypatch.setattr(bf16_probe, 'machine_loaded', lambda: True)
    decision = cpu_bf16_decision(training=True, force_hint='X')
    assert not decision.use_bf16 and 'measured on a loaded machine, not cached' in decision.reason
    assert not probe.file.exists()
    probe.forget()
    cpu_bf16_decision(training=True, force_hint='X')
    assert probe.calls == [True, True]  # measured again in the next process


def test_no_native_bf16_decides_float32_without_probing(probe, monkeypatch):
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: False)
    decision = cpu_bf16_decision(training=False, force_hint='X')
    assert not decision.use_bf16 and decision.ratio is None and probe.calls == []
    assert 'no native bf16' in decision.reason and 'force bf16 with X' in decision.reason
