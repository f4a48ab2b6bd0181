"""Measure an exported ONNX file's inference with OpenVINO (float32, bf16, int8), in-process.

The same work as :func:`~.ort_measure.run_ort_mode` on the same synthetic batch:
``ONNXRuntimeSegmentor.test_step`` (stacking the raw images, the graph, the argmax),
with the graph run by OpenVINO's CPU plugin instead of an ONNX Runtime session.
``precision`` picks OpenVINO's ``INFERENCE_PRECISION_HINT`` (``f32``, or ``bf16``:
OpenVINO's default on a CPU with AVX512-BF16/AMX); ``int8`` quantises the float32
graph first with NNCF's post-training ``nncf.quantize`` on the calibration images of
the ONNX Runtime int8 row (synthetic images, the same seeds), then runs it in f32
for the layers left in float. OpenVINO is optional (``pip install openvino nncf``);
it is used only by ``benchmark.py --backend onnxruntime --openvino``.
"""
import os
import time
from typing import Any, Dict

import numpy as np
import torch

from fcn_mm.deploy import ImageCalibrationReader, ONNXRuntimeSegmentor, synthetic_image
from .measure import peak_memory_mb, time_runs
from .synthetic import synthetic_batch

__all__ = ['OPENVINO_BACKEND', 'OPENVINO_PRECISIONS', 'import_openvino', 'run_openvino_mode']

OPENVINO_BACKEND = 'openvino'
OPENVINO_PRECISIONS = ('float32', 'bfloat16', 'int8')
_HINTS = dict(float32='f32', bfloat16='bf16', int8='f32')


def import_openvino():
    """``import openvino``, with the install command when it is missing."""
    try:
        import openvino
    except ImportError as err:
        raise ImportError('--openvino needs OpenVINO (and NNCF for int8): '
                          'pip install openvino nncf') from err
    return openvino


class OpenVINOSession:
    """The one method of an ONNX Runtime session that ``ONNXRuntimeSegmentor`` runs.

    Args:
        compiled: an ``openvino.CompiledModel`` of the exported graph.
    """

    def __init__(self, compiled) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()

    def run(self, output_names, feeds: Dict[str, np.ndarray]):
        """Outputs ``output_names`` for the inputs ``feeds`` (copies: OpenVINO reuses
        its output buffers)."""
        results = self.request.infer(feeds)
        return [np.array(results[self.compiled.output(name)]) for name in output_names]


def _quantize(core, model, spec: Dict[str, Any]):
    """NNCF post-training int8 on ``spec['calib']`` synthetic images (batch 1 each)."""
    try:
        import nncf
    except ImportError as err:
        raise ImportError('the OpenVINO int8 row needs NNCF: pip install nncf') from err
    height, width = (int(s) for s in spec['shape'])
    images = [synthetic_image(height, width, seed=i) for i in range(int(spec.get('calib', 2)))]
    items = list(ImageCalibrationReader(images))  # exactly what ONNX Runtime calibrates on
    return nncf.quantize(model, nncf.Dataset(items), subset_size=len(items))


def run_openvino_mode(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Time ``test_step`` with the graph run by OpenVINO on a synthetic batch.

    Args:
        spec (dict): ``onnx_file`` (float32 export), ``precision`` (one of
            :data:`OPENVINO_PRECISIONS`), ``shape`` (H, W), ``batch``, ``threads``
            (torch and OpenVINO ``INFERENCE_NUM_THREADS``), ``warmup``, ``repeat``,
            and optionally ``calib`` (int8 calibration images, default 2),
            ``flops`` and ``seed``.

    Returns:
        dict: as :func:`~.ort_measure.run_ort_mode` (``backend='openvino'``), plus
        ``quantize_s`` for int8.
    """
    ov = import_openvino()
    precision = spec.get('precision', 'float32')
    if precision not in OPENVINO_PRECISIONS:
        raise ValueError(f'OpenVINO precision must be one of {OPENVINO_PRECISIONS}, got '
                         f'{precision!r}')
    threads = int(spec.get('threads') or torch.get_num_threads())
    torch.set_num_threads(threads)
    batch_size = int(spec.get('batch', 1))
    height, width = (int(s) for s in spec['shape'])
    rss_before = peak_memory_mb(torch.device('cpu'))['peak_mem_mb']
    # the segmentor's pre- and post-processing; its ONNX Runtime session is replaced
    segmentor = ONNXRuntimeSegmentor(spec['onnx_file'], num_threads=1)
    segmentor.eval()
    core = ov.Core()
    model = core.read_model(spec['onnx_file'])
    quantize_s = None
    if precision == 'int8':
        start = time.perf_counter()
        model = _quantize(core, model, spec)
        quantize_s = time.perf_counter() - start
    compiled = core.compile_model(model, 'CPU', {
        'INFERENCE_NUM_THREADS': threads, 'PERFORMANCE_HINT': 'LATENCY',
        'INFERENCE_PRECISION_HINT': _HINTS[precision]})
    segmentor.session = OpenVINOSession(compiled)
    batch = synthetic_batch(batch_size, (height, width), max(segmentor.num_classes, 1),
                            seed=int(spec.get('seed', 0)))

    def step():
        with torch.no_grad():
            return segmentor.test_step(batch)

    load_before = os.getloadavg()[0]
    warmup, repeat = int(spec.get('warmup', 2)), int(spec.get('repeat', 5))
    timing = time_runs(step, warmup, repeat, torch.device('cpu'))
    result = dict(mode='infer', backend=OPENVINO_BACKEND, onnx_file=spec['onnx_file'],
                  shape=[height, width], batch=batch_size, device='cpu', threads=threads,
                  dtype=precision, amp=False, channels_last=False, compile=False,
                  warmup=warmup, repeat=repeat, flops=int(spec.get('flops') or 0),
                  rss_before_mb=rss_before, mem_before_mb=rss_before,
                  load_before=load_before, load_after=os.getloadavg()[0],
                  openvino=ov.__version__, quantize_s=quantize_s)
    result.update(timing)
    result.update(peak_memory_mb(torch.device('cpu')))
    return result
