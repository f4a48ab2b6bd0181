"""benchmark.py --backend onnxruntime on a tiny config: PyTorch and ONNX Runtime rows (float32,
int8) in one run, their speed-ups over PyTorch float32, and the option errors. No timing is
asserted."""
import json
import os
import subprocess
import sys

import onnx
import pytest
from perf_utils import REPO, load_tool, tool_path

from fcn_mm.analysis.benchmark import export_for_benchmark, run_backend_comparison


def test_cli_prints_pytorch_and_onnxruntime_rows(tiny_config, tmp_path):
    out = tmp_path / 'bench.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, tool_path('benchmark'), tiny_config, '--backend', 'onnxruntime',
         '--int8', '--repeat', '1', '--warmup', '0', '--shape', '40', '48',
         '--threads', '1', '--peak-sizes', '64', '--out', str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for expected in ('| backend', 'x PyTorch fp32', '| pytorch     | float32',
                     '| onnxruntime | float32', '| onnxruntime | int8',
                     '1 threads (torch and ONNX Runtime intra_op_num_threads)',
                     'onnxruntime float32: exported in this run (float32.onnx)',
                     'onnxruntime int8: quantised in this run (int8.onnx)',
                     'dense matmul peak, float32, 1 threads', '-> limit'):
        assert expected in text, text
    report = json.loads(out.read_text())
    results = report['results']
    assert list(results) == ['pytorch float32', 'onnxruntime float32', 'onnxruntime int8']
    base = results['pytorch float32']['median_s']
    for name, result in results.items():
        assert result['shape'] == [40, 48] and result['batch'] == 1
        assert result['threads'] == 1 and result['median_s'] > 0
        assert result['speedup'] == pytest.approx(base / result['median_s'])
        # the same network's FLOPs on every row
        assert result['flops'] == results['pytorch float32']['flops'] > 0
    assert results['onnxruntime float32']['fraction_of_peak'] > 0
    assert 'fraction_of_peak' not in results['onnxruntime int8']   # no int8 peak
    row = next(line for line in text.splitlines() if line.startswith('| pytorch     | float32'))
    assert '| 1.00x' in row


def test_given_files_are_timed_as_they_are(tiny_config, tmp_path):
    files = export_for_benchmark(tiny_config, None, str(tmp_path), (32, 32), int8=True,
                                 calib=1)
    assert [os.path.basename(f) for f in files] == ['float32.onnx', 'int8.onnx']
    props = {p.key: p.value for p in onnx.load(files[1]).metadata_props}
    assert props['precision'] == 'int8'
    report = run_backend_comparison(tiny_config, shape=(32, 32), warmup=0, repeat=1,
                                    threads=1, onnx_files=files, peak_sizes=(),
                                    isolate=False)
    results = report['results']
    assert list(results) == ['pytorch float32', 'onnxruntime float32', 'onnxruntime int8']
    assert results['onnxruntime int8']['onnx_file'] == files[1]
    assert results['onnxruntime int8']['dtype'] == 'int8'


@pytest.mark.slow  # ~10 s: an export and three backends; OpenVINO is optional
def test_openvino_rows_time_the_float32_file(tiny_config, tmp_path):
    """OpenVINO (optional: pip install openvino nncf) beside ONNX Runtime in one run."""
    pytest.importorskip('openvino')
    files = export_for_benchmark(tiny_config, None, str(tmp_path), (32, 32))
    report = run_backend_comparison(tiny_config, shape=(32, 32), warmup=0, repeat=1,
                                    threads=1, onnx_files=files, peak_sizes=(),
                                    isolate=False, openvino=True)
    results = report['results']
    assert list(results) == ['pytorch float32', 'onnxruntime float32', 'openvino float32',
                             'openvino bfloat16']
    for name in ('openvino float32', 'openvino bfloat16'):
        result = results[name]
        assert result['backend'] == 'openvino' and result['median_s'] > 0
        assert result['flops'] == results['pytorch float32']['flops'] > 0
        assert result['onnx_file'] == 'float32.onnx read by OpenVINO'
    assert results['openvino bfloat16']['dtype'] == 'bfloat16'
    text = load_tool('benchmark').format_backend_report(report)
    assert '| openvino    | float32' in text and f"openvino {report['machine']['openvino']}" in text
    # the same predictions as ONNX Runtime's on the same batch (float32)
    from fcn_mm.analysis.benchmark import synthetic_batch
    from fcn_mm.analysis.benchmark.openvino_measure import OpenVINOSession, import_openvino
    from fcn_mm.deploy import ONNXRuntimeSegmentor
    ort = ONNXRuntimeSegmentor(files[0], num_threads=1).eval()
    batch = synthetic_batch(1, (32, 32), ort.num_classes, seed=3)
    expected = ort.test_step(batch)[0].seg_logits.data
    ov = import_openvino()
    core = ov.Core()
    ort.session = OpenVINOSession(core.compile_model(core.read_model(files[0]), 'CPU', {
        'INFERENCE_PRECISION_HINT': 'f32', 'INFERENCE_NUM_THREADS': 1}))
    got = ort.test_step(batch)[0].seg_logits.data
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_option_errors(tiny_config, tmp_path):
    tool = load_tool('benchmark')
    with pytest.raises(SystemExit, match='--onnx and --int8 time ONNX Runtime: add '
                                         '--backend onnxruntime'):
        tool.main([tiny_config, '--int8'])
    with pytest.raises(SystemExit, match='--openvino adds rows to --backend onnxruntime'):
        tool.main([tiny_config, '--openvino'])
    with pytest.raises(SystemExit, match='--backend onnxruntime times inference only'):
        tool.main([tiny_config, '--backend', 'onnxruntime', '--mode', 'train'])
    with pytest.raises(FileNotFoundError, match='--onnx .*missing.onnx: no such file'):
        tool.main([tiny_config, '--backend', 'onnxruntime', '--onnx',
                   str(tmp_path / 'missing.onnx')])
    with pytest.raises(ValueError, match='--calib must be a positive number of images, '
                                         'got 0'):
        tool.main([tiny_config, '--backend', 'onnxruntime', '--int8', '--calib', '0'])
