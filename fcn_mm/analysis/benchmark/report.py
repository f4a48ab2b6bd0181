"""Readable tables of benchmark results (:func:`~.run.run_benchmark`'s report)."""
from typing import Any, Dict, List, Optional

from terminaltables import AsciiTable

__all__ = ['format_report', 'format_complexity', 'format_peak_line', 'format_limits_line']

_HEADER = ['mode', 'dtype', 'options', 'batch x HxW', 'median s (min-max)', 'img/s',
           'GFLOP/step', 'GFLOP/s', '% of peak', 'GFLOP/s cpu-time', '% of peak cpu-time',
           'peak mem MiB']


def _pct(value: Optional[float]) -> str:
    return '-' if value is None else f'{100 * value:.0f}%'


def _options(result: Dict[str, Any]) -> str:
    opts = [name for name in ('amp', 'channels_last') if result.get(name)]
    if result.get('compile'):
        opts.append('compile')
    return ','.join(opts) or 'none'


def _row(result: Dict[str, Any]) -> List[str]:
    height, width = result['shape']
    return [result['mode'], result['dtype'], _options(result),
            f"{result['batch']} x {height}x{width}",
            f"{result['median_s']:.3f} ({result['min_s']:.3f}-{result['max_s']:.3f})",
            f"{result['imgs_per_s']:.3g}", f"{result['gflops_per_step']:.4g}",
            f"{result['gflops_per_s']:.4g}", _pct(result.get('fraction_of_peak')),
            f"{result['gflops_per_s_cpu']:.4g}", _pct(result.get('fraction_of_peak_cpu')),
            f"{result['peak_mem_mb']:.0f}"]


def format_peak_line(peak: Dict[str, Any]) -> str:
    """One line of a :func:`~.peak.matmul_peak` result, ending in the limit."""
    parts = []
    for kind, label in (('mm', 'torch.mm'), ('conv1x1', 'oneDNN 1x1 conv')):
        if kind in peak:
            sizes = ', '.join(f'{n}: {g:.0f}' for n, g in peak[kind]['by_size'].items())
            parts.append(f"{label} {peak[kind]['gflops']:.1f} (by size {sizes}; "
                         f"cpu-time {peak[kind]['gflops_cpu']:.1f})")
    return (f"dense matmul peak, {peak['dtype']}, {peak['threads']} threads, GFLOP/s: "
            + '; '.join(parts) + f" -> limit {peak['best']:.1f} (cpu-time "
            f"{peak['best_cpu']:.1f})")


def _limit(peak: Dict[str, Any]) -> float:
    """The oneDNN 1x1-conv GFLOP/s where measured (CPU), else the best kernel's."""
    return peak['conv1x1']['gflops'] if 'conv1x1' in peak else peak['best']


def format_limits_line(report: Dict[str, Any]) -> str:
    """One header line: the CPU, its fp32 and bf16 limits, their ratio, the AMP choice.

    Args:
        report (dict): a benchmark, sweep or backend report (``machine``, ``peaks``).

    Returns:
        str: e.g. ``CPU AMD EPYC: oneDNN 1x1-conv limit float32 230 GFLOP/s, bfloat16
        410 GFLOP/s (bf16/fp32 1.78x) | --amp here: training bfloat16 (probe 1.52x),
        inference bfloat16 (probe 1.61x)``.
    """
    machine, peaks = report['machine'], report.get('peaks') or {}
    parts = [f"CPU {machine['cpu']}"]
    if machine.get('gpu'):
        parts = [f"GPU {machine['gpu']}"]
    limits = [f'{dtype} {_limit(peaks[dtype]):.0f} GFLOP/s' for dtype in
              ('float32', 'bfloat16') if dtype in peaks]
    if limits:
        kernel = 'oneDNN 1x1-conv' if 'conv1x1' in next(iter(peaks.values())) else 'matmul'
        text = f"{parts[0]}: {kernel} limit {', '.join(limits)}"
        if 'float32' in peaks and 'bfloat16' in peaks:
            text += (f" (bf16/fp32 {_limit(peaks['bfloat16']) / _limit(peaks['float32']):.2f}x)")
        parts = [text]
    choice = machine.get('amp_choice')
    if choice:
        modes = []
        for mode, label in (('train', 'training'), ('infer', 'inference')):
            entry = choice[mode]
            ratio = '' if entry['ratio'] is None else f" (probe {entry['ratio']:.2f}x)"
            modes.append(f"{label} {entry['dtype']}{ratio}")
        parts.append('--amp here: ' + ', '.join(modes))
    return ' | '.join(parts)


def format_report(report: Dict[str, Any]) -> str:
    """The benchmark report as text: a header, the table, the peaks and the load.

    Args:
        report (dict): the output of :func:`~.run.run_benchmark`.

    Returns:
        str: printable text.
    """
    machine = report['machine']
    lines = [f"config: {report['config']}  checkpoint: {report.get('checkpoint')}",
             f"torch {machine['torch']} | {machine.get('gpu', machine['cpu'])} | device "
             f"{machine['device']} | {machine['threads']} threads | cpu bf16: "
             f"{machine['cpu_bf16']} | env {machine.get('env') or {}}",
             format_limits_line(report)]
    rows = [_HEADER] + [_row(r) for r in report['results'].values()]
    table = AsciiTable(rows)
    table.inner_column_border = True
    lines.append(table.table)
    lines += [format_peak_line(peak) for peak in report['peaks'].values()]
    for mode, result in report['results'].items():
        lines.append(f"{mode}: load average {result['load_before']:.2f} -> "
                     f"{result['load_after']:.2f} during the run; peak memory is "
                     f"{result['mem_kind']} ({result['rss_before_mb']:.0f} MiB before "
                     'the first step)')
    lines.append(f"load average (1, 5, 15 min) at start {machine['load_avg']}, at end "
                 f"{machine.get('load_avg_after')}; FLOPs: 2 per multiply-add, convs and "
                 'matmuls only (torch.utils.flop_counter); cpu-time figures use process '
                 'CPU time / threads')
    return '\n'.join(lines)


def format_complexity(info: Dict[str, Any], config: str) -> str:
    """Text of :func:`~.flops.get_model_complexity`'s result.

    Args:
        info (dict): its result.
        config (str): the config path, for the header.

    Returns:
        str: printable text.
    """
    height, width = info['shape']
    aux = ('auxiliary head(s) counted' if info['with_aux']
           else 'auxiliary head(s) NOT counted (use --with-aux)')
    return '\n'.join([
        f'config: {config}',
        f'input shape: (1, 3, {height}, {width}); {aux}',
        f"parameters: {info['params']:,} ({info['params'] / 1e6:.2f} M; auxiliary "
        f"head(s): {info['params_aux']:,})",
        f"FLOPs: {info['gflops']:.2f} GFLOPs (2 per multiply-add)",
        f"MACs: {info['gmacs']:.2f} GMACs",
    ])
