"""Measure an exported ONNX file's inference with ONNX Runtime, in-process.

The step is ``ONNXRuntimeSegmentor.test_step(batch)`` on the same synthetic batch as
PyTorch's ``infer`` mode (:func:`~.measure.run_mode`): stacking the raw images, the
graph (colour conversion, mean/std, network, resize to the input size), then the
argmax into ``pred_sem_seg``, as ``tools/test.py --backend onnxruntime`` runs it.
ONNX Runtime's intra-op threads are set to the torch thread count of the spec.
"""
import os
from typing import Any, Dict

import torch

from fcn_mm.deploy import ONNXRuntimeSegmentor
from .measure import peak_memory_mb, time_runs
from .synthetic import synthetic_batch

__all__ = ['ORT_BACKEND', 'run_ort_mode']

ORT_BACKEND = 'onnxruntime'


def run_ort_mode(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Time ``ONNXRuntimeSegmentor.test_step`` on a synthetic batch.

    Args:
        spec (dict): ``onnx_file``, ``shape`` (H, W), ``batch``, ``threads`` (torch
            and ONNX Runtime intra-op threads), ``warmup``, ``repeat``, and optionally
            ``flops`` (of the same network, counted on the PyTorch model) and ``seed``.

    Returns:
        dict: as :func:`~.measure.run_mode`: the settings, ``dtype`` (the file's
        ``precision`` metadata), timings, ``peak_mem_mb`` and load averages.
    """
    threads = int(spec.get('threads') or torch.get_num_threads())
    torch.set_num_threads(threads)
    batch_size = int(spec.get('batch', 1))
    height, width = (int(s) for s in spec['shape'])
    model = ONNXRuntimeSegmentor(spec['onnx_file'], num_threads=threads)
    model.eval()
    batch = synthetic_batch(batch_size, (height, width), max(model.num_classes, 1),
                            seed=int(spec.get('seed', 0)))

    def step():
        with torch.no_grad():
            return model.test_step(batch)

    rss_before = peak_memory_mb(torch.device('cpu'))['peak_mem_mb']
    load_before = os.getloadavg()[0]
    warmup, repeat = int(spec.get('warmup', 2)), int(spec.get('repeat', 5))
    timing = time_runs(step, warmup, repeat, torch.device('cpu'))
    result = dict(mode='infer', backend=ORT_BACKEND, onnx_file=spec['onnx_file'],
                  shape=[height, width], batch=batch_size, device='cpu', threads=threads,
                  dtype=str(model.metadata.get('precision', 'float32')), amp=False,
                  channels_last=False, compile=False, warmup=warmup, repeat=repeat,
                  flops=int(spec.get('flops') or 0), rss_before_mb=rss_before,
                  mem_before_mb=rss_before, load_before=load_before,
                  load_after=os.getloadavg()[0])
    result.update(timing)
    result.update(peak_memory_mb(torch.device('cpu')))
    return result
