"""PyTorch eager beside ONNX Runtime (float32, int8) in one run: ``benchmark.py --backend
onnxruntime``.

Call flow::

    run_backend_comparison(config, checkpoint, shape, ..., onnx_files, int8)
      -> PyTorch eager float32 infer (and bf16 with amp)   one subprocess each
      -> the ONNX files: given, or exported now at the same (N, H, W) (static);
         with ``int8`` also the float32 file quantised now (synthetic calibration);
         in a subprocess, so that the rows' peak memory does not include it
      -> each file in its own subprocess (:func:`~.ort_measure.run_ort_mode`):
         ONNX Runtime with intra_op_num_threads = the torch thread count
      -> the matmul peak of float32 (and bf16), GFLOP/s, and every row's speed-up
         over PyTorch float32 (``speedup``: its median time / the row's)

All rows time the same work on the same synthetic batch: preprocessing, the network,
the resize of the logits to the image size and the argmax (``test_step``).
"""
import os
import os.path as osp
import tempfile
from typing import Any, Dict, List, Optional, Sequence

import torch
from terminaltables import AsciiTable

from fcn_mm.deploy import (ImageCalibrationReader, export_onnx, import_onnxruntime,
                           quantize_onnx, synthetic_image)
from fcn_mm.models.builder import build_offline_model
from fcn_mm.utils.config_check import load_config
from .measure import crop_size_of, run_mode
from .openvino_measure import OPENVINO_BACKEND, import_openvino, run_openvino_mode
from .ort_measure import ORT_BACKEND, run_ort_mode
from .peak import DEFAULT_PEAK_SIZES, matmul_peak
from .report import format_limits_line, format_peak_line
from .run import add_cpu_limits, add_rates, machine_info, run_isolated

__all__ = ['BENCHMARK_BACKENDS', 'export_for_benchmark', 'run_backend_comparison',
           'format_backend_report']

BENCHMARK_BACKENDS = ('pytorch', ORT_BACKEND)
PYTORCH_FP32 = 'pytorch float32'


def export_for_benchmark(config: str, checkpoint: Optional[str], out_dir: str,
                         shape: Sequence[int], batch: int = 1, int8: bool = False,
                         calib: int = 2, cfg_options: Optional[dict] = None,
                         float_file: Optional[str] = None) -> List[str]:
    """Export the config's model (static N, H, W) and optionally quantise it to int8.

    Args:
        config (str): config file.
        checkpoint (str, optional): weights (random ones time the same).
        out_dir (str): where the files go.
        shape (Sequence[int]): (H, W).
        batch (int): N. Defaults to 1.
        int8 (bool): also write an int8 file, calibrated on ``calib`` synthetic images.
        calib (int): calibration images of ``int8``. Defaults to 2.
        cfg_options (dict, optional): config overrides.
        float_file (str, optional): an existing float32 export to quantise instead.

    Returns:
        list[str]: the float32 file (unless ``float_file`` is given) and the int8 file.
    """
    files: List[str] = []
    height, width = (int(s) for s in shape)
    if float_file is None:
        cfg = load_config(config, cfg_options)
        model = build_offline_model(cfg, checkpoint).eval()
        float_file = osp.join(out_dir, 'float32.onnx')
        with torch.no_grad():
            export_onnx(model, float_file, shape=(height, width), batch_size=int(batch),
                        config_name=osp.basename(config))
        files.append(float_file)
        del model
    if int8:
        images = [synthetic_image(height, width, seed=i) for i in range(int(calib))]
        int8_file = osp.join(out_dir, 'int8.onnx')
        quantize_onnx(float_file, int8_file, ImageCalibrationReader(images),
                      extra_metadata=dict(calib_split='synthetic (benchmark)'))
        files.append(int8_file)
    return files


def _row_name(result: Dict[str, Any], taken: Dict[str, Any]) -> str:
    name = f"{ORT_BACKEND} {result['dtype']}"
    if name in taken:
        name = f"{name} ({osp.basename(result['onnx_file'])})"
    return name


def run_backend_comparison(config: str, checkpoint: Optional[str] = None, *,
                           shape: Optional[Sequence[int]] = None, batch: int = 1,
                           warmup: int = 2, repeat: int = 5, amp: bool = False,
                           channels_last: Optional[bool] = None,
                           threads: Optional[int] = None,
                           cfg_options: Optional[dict] = None,
                           onnx_files: Sequence[str] = (), int8: bool = False,
                           calib: int = 2, peak_sizes: Sequence[int] = DEFAULT_PEAK_SIZES,
                           isolate: bool = True, openvino: bool = False) -> Dict[str, Any]:
    """Time PyTorch eager and ONNX Runtime inference of one model in one run (CPU).

    Args:
        config (str): config file.
        checkpoint (str, optional): weights of the PyTorch rows (and of the export).
        shape (Sequence[int], optional): (H, W); default: the config's crop size.
        batch (int): images per step. Defaults to 1.
        warmup (int): untimed steps first. Defaults to 2.
        repeat (int): timed steps. Defaults to 5.
        amp (bool): add a PyTorch bf16 (autocast) row. Defaults to False.
        channels_last (bool, optional): NHWC for the PyTorch rows.
        threads (int, optional): torch threads = ONNX Runtime intra-op threads.
        cfg_options (dict, optional): config overrides.
        onnx_files (Sequence[str]): exported files to time; none: export now.
        int8 (bool): quantise the float32 file now (synthetic calibration) and time it.
        calib (int): calibration images of ``int8``. Defaults to 2.
        peak_sizes (Sequence[int]): matmul sizes of the peak; empty: no peak.
        isolate (bool): one subprocess per row (True), or all in this process.
        openvino (bool): add OpenVINO rows of the float32 file (OpenVINO float32 and
            bf16, and with ``int8`` NNCF int8 on the same calibration images):
            :func:`~.openvino_measure.run_openvino_mode`. Defaults to False.

    Returns:
        dict: ``config``, ``checkpoint``, ``backend``, ``machine``, ``peaks`` and
        ``results`` (row name -> result with ``speedup`` over PyTorch float32).
    """
    if int(calib) < 1:
        raise ValueError(f'--calib must be a positive number of images, got {calib}')
    for path in onnx_files:
        if not osp.isfile(path):
            raise FileNotFoundError(f'--onnx {path}: no such file')
    threads = int(threads or torch.get_num_threads())
    cfg = load_config(config, cfg_options)
    shape = [int(s) for s in (shape or crop_size_of(cfg))]
    common = dict(checkpoint=checkpoint, cfg_options=cfg_options, warmup=int(warmup),
                  repeat=int(repeat), compile=False, device='cpu', threads=threads,
                  mode='infer', shape=shape, batch=int(batch), config=config,
                  channels_last=channels_last)
    run = run_isolated if isolate else None
    report: Dict[str, Any] = dict(config=config, checkpoint=checkpoint, backend=ORT_BACKEND,
                                  machine=machine_info('cpu', threads), peaks={},
                                  results={})
    results = report['results']
    torch_specs = {PYTORCH_FP32: dict(common, amp=False)}
    if amp:
        # a measurement: bf16 even where --amp alone would choose float32
        torch_specs['pytorch bfloat16 (amp)'] = dict(common, amp=True, amp_dtype='bfloat16')
    for name, spec in torch_specs.items():
        results[name] = run(spec) if run else run_mode(spec)
        results[name]['backend'] = 'pytorch'
    flops = results[PYTORCH_FP32]['flops']
    with tempfile.TemporaryDirectory(prefix='fcn_mm_bench_onnx_') as tmp:
        files = list(onnx_files)
        if not files or int8:
            float_given = files[0] if files and int8 else None
            args = dict(config=config, checkpoint=checkpoint, out_dir=tmp, shape=shape,
                        batch=int(batch), int8=int8, calib=int(calib),
                        cfg_options=cfg_options, float_file=float_given)
            # in a process of its own: a child inherits the parent's peak RSS (ru_maxrss
            # survives fork and exec), so the export must not raise this process's peak
            files += (run(dict(mode='export', args=args))['files'] if run
                      else export_for_benchmark(**args))
        timed = []  # (file, precision) of the ONNX Runtime rows
        for path in files:
            spec = dict(backend=ORT_BACKEND, mode='infer', onnx_file=path, shape=shape,
                        batch=int(batch), threads=threads, warmup=int(warmup),
                        repeat=int(repeat), flops=flops)
            result = run(spec) if run else run_ort_mode(spec)
            made = 'quantised' if result['dtype'] == 'int8' else 'exported'
            result['onnx_file'] = (path if path in onnx_files
                                   else f'{made} in this run ({osp.basename(path)})')
            results[_row_name(result, results)] = result
            timed.append((path, result['dtype']))
        if openvino:
            float_file = next((path for path, dtype in timed if dtype == 'float32'), None)
            if float_file is None:
                raise ValueError('--openvino reads a float32 ONNX file: give one with '
                                 '--onnx, or leave --onnx out to export one now')
            precisions = ('float32', 'bfloat16') + (('int8',) if int8 else ())
            for precision in precisions:
                spec = dict(backend=OPENVINO_BACKEND, mode='infer', onnx_file=float_file,
                            precision=precision, shape=shape, batch=int(batch),
                            threads=threads, warmup=int(warmup), repeat=int(repeat),
                            flops=flops, calib=int(calib))
                result = run(spec) if run else run_openvino_mode(spec)
                result['onnx_file'] = (f'{osp.basename(float_file)} read by OpenVINO'
                                       + (', quantised by NNCF in this run'
                                          if precision == 'int8' else ''))
                results[f'{OPENVINO_BACKEND} {precision}'] = result
    base = results[PYTORCH_FP32]['median_s']
    for result in results.values():
        dtype = result['dtype']
        if peak_sizes and dtype in ('float32', 'bfloat16') and dtype not in report['peaks']:
            report['peaks'][dtype] = matmul_peak(getattr(torch, dtype), 'cpu',
                                                 sizes=peak_sizes, threads=threads)
        add_rates(result, report['peaks'].get(dtype))
        result['speedup'] = base / result['median_s']
    add_cpu_limits(report, 'cpu', peak_sizes, threads)
    report['machine']['onnxruntime'] = import_onnxruntime().__version__
    if openvino:
        report['machine']['openvino'] = import_openvino().__version__
    report['machine']['load_avg_after'] = list(os.getloadavg())
    return report


_HEADER = ['backend', 'precision', 'options', 'batch x HxW', 'median s (min-max)', 's/img',
           'x PyTorch fp32', 'GFLOP/s', '% of limit', 'peak mem MiB']


def _row(name: str, result: Dict[str, Any]) -> List[str]:
    height, width = result['shape']
    options = [o for o in ('amp', 'channels_last') if result.get(o)]
    fraction = result.get('fraction_of_peak')
    backend = result.get('backend', 'pytorch')
    return [name.rsplit(' ', 1)[0] if backend == ORT_BACKEND else backend,
            result['dtype'], ','.join(options) or 'none',
            f"{result['batch']} x {height}x{width}",
            f"{result['median_s']:.3f} ({result['min_s']:.3f}-{result['max_s']:.3f})",
            f"{result['median_s'] / result['batch']:.3f}", f"{result['speedup']:.2f}x",
            f"{result['gflops_per_s']:.4g}",
            '-' if fraction is None else f'{100 * fraction:.0f}%',
            f"{result['peak_mem_mb']:.0f}"]


def format_backend_report(report: Dict[str, Any]) -> str:
    """:func:`run_backend_comparison`'s report as text: table, peaks, threads, load.

    Args:
        report (dict): its result.

    Returns:
        str: printable text.
    """
    machine = report['machine']
    lines = [f"config: {report['config']}  checkpoint: {report.get('checkpoint')}",
             f"torch {machine['torch']} | onnxruntime {machine.get('onnxruntime')} | "
             + (f"openvino {machine['openvino']} | " if machine.get('openvino') else '') +
             f"{machine['cpu']} | {machine['threads']} threads (torch and ONNX Runtime "
             f"intra_op_num_threads) | cpu bf16: {machine['cpu_bf16']}",
             format_limits_line(report)]
    rows = [_HEADER] + [_row(name, r) for name, r in report['results'].items()]
    table = AsciiTable(rows)
    table.inner_column_border = True
    lines.append(table.table)
    for name, result in report['results'].items():
        if result.get('backend') in (ORT_BACKEND, OPENVINO_BACKEND):
            lines.append(f"{name}: {result['onnx_file']}")
    lines += [format_peak_line(peak) for peak in report['peaks'].values()]
    lines.append(f"load average (1, 5, 15 min) at start {machine['load_avg']}, at end "
                 f"{machine.get('load_avg_after')}; every row times test_step on the same "
                 "synthetic batch (preprocessing, network, resize, argmax); GFLOP/s count "
                 "the PyTorch model's conv FLOPs; int8 rows have no % of limit (no int8 "
                 "peak is measured)")
    return '\n'.join(lines)
