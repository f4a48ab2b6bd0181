"""benchmark.py end to end on a tiny config; the report's fields and figures."""
import json
import os
import subprocess
import sys

import pytest
import torch
from perf_utils import REPO, tool_path

from fcn_mm.analysis.benchmark import add_rates, format_report, matmul_peak, run_benchmark
from fcn_mm.analysis.flops import count_flops

MODE_FIELDS = ('mode', 'shape', 'batch', 'dtype', 'flops', 'times_s', 'median_s', 'min_s',
               'max_s', 'cpu_median_s', 'imgs_per_s', 'gflops_per_s', 'gflops_per_s_cpu',
               'fraction_of_peak', 'fraction_of_mm_peak', 'fraction_of_peak_cpu',
               'peak_mem_mb', 'mem_kind', 'load_before', 'load_after')


def test_benchmark_cli_end_to_end(tiny_config, tmp_path):
    out = tmp_path / 'bench.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, tool_path('benchmark'), tiny_config, '--mode', 'both',
         '--repeat', '1', '--warmup', '0', '--shape', '40', '48', '--train-batch', '2',
         '--threads', '1', '--peak-sizes', '64', '--out', str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in ('| mode', 'GFLOP/s', '% of peak', 'peak mem MiB', '| infer', '| train',
                 'dense matmul peak, float32, 1 threads', 'load average'):
        assert text in proc.stdout
    report = json.loads(out.read_text())
    infer, train = report['results']['infer'], report['results']['train']
    for result in (infer, train):
        assert all(key in result for key in MODE_FIELDS), set(MODE_FIELDS) - set(result)
        assert result['flops'] > 0 and result['median_s'] > 0 and result['peak_mem_mb'] > 0
        assert result['dtype'] == 'float32' and result['threads'] == 1
        assert len(result['times_s']) == 1 and result['mem_kind'] == 'ru_maxrss'
    assert infer['shape'] == [40, 48] and infer['batch'] == 1
    assert train['shape'] == [32, 32] and train['batch'] == 2   # the config's crop size
    peak = report['peaks']['float32']
    assert peak['mm']['by_size']['64'] > 0 and peak['best'] >= peak['mm']['gflops']
    assert infer['fraction_of_peak'] == pytest.approx(infer['gflops_per_s'] / peak['best'])
    assert report['machine']['threads'] == 1


def test_train_flops_cover_both_heads_forward_and_backward(tiny_config):
    """The training step's count equals an independent count of forward + backward."""
    report = run_benchmark(tiny_config, modes=('train',), repeat=1, warmup=0,
                           train_batch=2, peak_sizes=(), isolate=False)
    train = report['results']['train']
    from fcn_mm.analysis.benchmark import synthetic_batch
    from fcn_mm.models.builder import build_offline_model
    from fcn_mm.utils.config_check import load_config
    model = build_offline_model(load_config(tiny_config)).train()
    data = model.data_preprocessor(synthetic_batch(2, (32, 32), with_labels=True), True)

    def fwd_bwd():
        losses = model(**data, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()

    _, expected = count_flops(fwd_bwd)
    assert train['flops'] == expected
    assert 'fraction_of_peak' not in train  # no peak measured
    assert report['peaks'] == {}


@pytest.mark.parametrize('ratio,dtype', [(2.0, 'bfloat16'), (0.7, 'float32')])
def test_amp_inference_follows_the_probe_and_the_header_says_so(tiny_config, monkeypatch,
                                                                tmp_path, ratio, dtype):
    """The probe's measurement is simulated; the decision and the report are real."""
    from fcn_mm.utils import bf16_probe, device, speed_options
    monkeypatch.setenv(bf16_probe.CACHE_ENV, str(tmp_path / 'amp_probe.json'))
    monkeypatch.setattr(bf16_probe, '_MEMO', {})
    monkeypatch.setattr(speed_options, '_LOGGED_REASONS', set())
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: True)
    monkeypatch.setattr(bf16_probe, 'measure_bf16_speedup',
                        lambda training, **kw: dict(fp32_s=ratio, bf16_s=1.0, ratio=ratio))
    report = run_benchmark(tiny_config, modes=('infer',), repeat=1, warmup=1, amp=True,
                           channels_last=True, peak_sizes=(64,), isolate=False)
    infer = report['results']['infer']
    assert infer['dtype'] == dtype and infer['amp'] and infer['channels_last']
    assert set(report['peaks']) == {'float32', 'bfloat16'}  # both limits, always
    assert report['machine']['amp_choice']['infer'] == dict(
        dtype=dtype, ratio=ratio, reason=report['machine']['amp_choice']['infer']['reason'])
    text = format_report(report)
    assert 'amp,channels_last' in text and 'dense matmul peak, bfloat16' in text
    fp32 = report['peaks']['float32']['conv1x1']['gflops']
    bf16 = report['peaks']['bfloat16']['conv1x1']['gflops']
    header = text.splitlines()[2]
    assert header.startswith(f"CPU {report['machine']['cpu']}: oneDNN 1x1-conv limit "
                             f'float32 {fp32:.0f} GFLOP/s, bfloat16 {bf16:.0f} GFLOP/s '
                             f'(bf16/fp32 {bf16 / fp32:.2f}x)')
    assert header.endswith(f'--amp here: training {dtype} (probe {ratio:.2f}x), '
                           f'inference {dtype} (probe {ratio:.2f}x)')


def test_add_rates_arithmetic():
    result = dict(flops=4e9, median_s=2.0, cpu_median_s=2.0, threads=2, batch=2)
    peak = dict(dtype='float32', best=4.0, best_cpu=2.0, mm=dict(gflops=1.0))
    add_rates(result, peak)
    assert result['gflops_per_s'] == 2.0 and result['imgs_per_s'] == 1.0
    assert result['gflops_per_s_cpu'] == 4.0      # 2 CPU-seconds over 2 threads = 1 s
    assert result['fraction_of_peak'] == 0.5 and result['fraction_of_mm_peak'] == 2.0
    assert result['fraction_of_peak_cpu'] == 2.0


def test_matmul_peak_fields():
    peak = matmul_peak(torch.float32, 'cpu', sizes=(32, 64), repeat=1, threads=1)
    assert set(peak['mm']['by_size']) == {32, 64} and peak['threads'] == 1
    assert peak['best'] == max(peak['mm']['gflops'], peak['conv1x1']['gflops']) > 0


def test_run_benchmark_rejects_unknown_mode(tiny_config):
    with pytest.raises(ValueError, match="modes must be a non-empty subset of \\('infer', "
                       "'train'\\), got \\['predict'\\]"):
        run_benchmark(tiny_config, modes=('predict',))
