"""The sweep's table (text or Markdown) and its plot of time and memory against pixels."""
from typing import Any, Dict, List, Optional

from terminaltables import AsciiTable

from .report import format_limits_line

__all__ = ['SWEEP_HEADER', 'sweep_rows', 'format_sweep', 'sweep_markdown', 'plot_sweep']

SWEEP_HEADER = ['step', 'batch x HxW', 'Mpx/step', 'median s (min-max)', 's/image', 's/Mpx',
                'GFLOP/step', 'GFLOP/s', 'peak mem MiB', 'step mem MiB', 'windows',
                'overlap', 'slide overhead']

_KIND_LABEL = dict(whole='infer whole', slide='infer slide', train='train step')


def _optional(row: Dict[str, Any], key: str, fmt: str) -> str:
    return '-' if row.get(key) is None else format(row[key], fmt)


def sweep_rows(report: Dict[str, Any]) -> List[List[str]]:
    """The sweep's rows as strings, in :data:`SWEEP_HEADER` order."""
    rows = []
    for row in report['rows']:
        height, width = row['shape']
        rows.append([
            _KIND_LABEL[row['kind']], f"{row['batch']} x {height}x{width}",
            f"{row['megapixels']:.3f}",
            f"{row['median_s']:.3f} ({row['min_s']:.3f}-{row['max_s']:.3f})",
            f"{row['s_per_image']:.3f}", f"{row['s_per_megapixel']:.3f}",
            f"{row['gflops_per_step']:.4g}", f"{row['gflops_per_s']:.4g}",
            f"{row['peak_mem_mb']:.0f}", f"{row['step_mem_mb']:.0f}",
            _optional(row, 'windows', 'd'), _optional(row, 'overlap', '.2f'),
            _optional(row, 'slide_overhead', '.2f')])
    return rows


def _header_lines(report: Dict[str, Any]) -> List[str]:
    machine, first = report['machine'], (report['rows'] or [{}])[0]
    options = [name for name in ('amp', 'channels_last', 'compile') if first.get(name)]
    slide = report['slide_test_cfg']
    return [f"config: {report['config']}  checkpoint: {report.get('checkpoint')}",
            f"torch {machine['torch']} | {machine.get('gpu', machine['cpu'])} | device "
            f"{machine['device']} | {machine['threads']} threads | dtype "
            f"{first.get('dtype')} | options {','.join(options) or 'none'} | env "
            f"{machine.get('env') or {}}",
            format_limits_line(report),
            f"slide windows {tuple(slide['crop_size'])} every {tuple(slide['stride'])}, "
            f"{slide.get('windows_per_forward') or 'all'} per forward"]


def _footer_lines(report: Dict[str, Any]) -> List[str]:
    lines = []
    for dtype, peak in report['peaks'].items():
        lines.append(f"dense matmul limit, {dtype}: {peak['best']:.1f} GFLOP/s "
                     f"(torch.mm {peak['mm']['gflops']:.1f})")
    lines.append('slide overhead = slide time / (whole-image time of the same image x '
                 'overlap); overlap = window pixels / image pixels; step mem = peak minus '
                 'the memory before the first step')
    lines.append(f"load average at start {report['machine']['load_avg']}, at end "
                 f"{report['machine'].get('load_avg_after')}")
    return lines


def format_sweep(report: Dict[str, Any]) -> str:
    """The sweep report as printable text (header, table, limits, notes).

    Args:
        report (dict): the output of :func:`~.sweep.run_sweep`.

    Returns:
        str: the text.
    """
    table = AsciiTable([SWEEP_HEADER] + sweep_rows(report))
    table.inner_column_border = True
    return '\n'.join(_header_lines(report) + [table.table] + _footer_lines(report))


def sweep_markdown(report: Dict[str, Any]) -> str:
    """The sweep table as Markdown (for docs/benchmark.md), with its header lines.

    Args:
        report (dict): the output of :func:`~.sweep.run_sweep`.

    Returns:
        str: Markdown text: the header lines as a list, then the table.
    """
    lines = [f'- {line}' for line in _header_lines(report)] + ['']
    lines.append('| ' + ' | '.join(SWEEP_HEADER) + ' |')
    lines.append('|' + '---|' * len(SWEEP_HEADER))
    lines += ['| ' + ' | '.join(row) + ' |' for row in sweep_rows(report)]
    lines += [''] + [f'- {line}' for line in _footer_lines(report)]
    return '\n'.join(lines) + '\n'


def plot_sweep(report: Dict[str, Any], path: str, title: Optional[str] = None) -> str:
    """Plot step time and step memory against megapixels per step (log-log), as PNG.

    One line per kind of step (whole-image inference, slide inference, training),
    and a dotted line through the first whole-image point that grows in proportion
    to the pixels: where a line bends away from it, cost is not linear in pixels.

    Args:
        report (dict): the output of :func:`~.sweep.run_sweep`.
        path (str): the PNG to write.
        title (str, optional): figure title; the config's name by default.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = dict(whole='o-', slide='s--', train='^-')
    for kind, style in styles.items():
        rows = [r for r in report['rows'] if r['kind'] == kind]
        if not rows:
            continue
        pixels = [r['megapixels'] for r in rows]
        ax_time.plot(pixels, [r['median_s'] for r in rows], style, label=_KIND_LABEL[kind])
        # floored at 1 MiB for the log axis (a tiny model's step may add nothing)
        ax_mem.plot(pixels, [max(r['step_mem_mb'], 1.0) for r in rows], style,
                    label=_KIND_LABEL[kind])
    whole = [r for r in report['rows'] if r['kind'] == 'whole']
    if len(whole) > 1:
        first, pixels = whole[0], [r['megapixels'] for r in whole]
        ax_time.plot(pixels, [first['median_s'] * p / first['megapixels'] for p in pixels],
                     ':', color='grey', label='proportional to pixels')
    for ax, label in ((ax_time, 'median seconds per step'),
                      (ax_mem, 'step memory MiB (peak - before)')):
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('megapixels per step (batch x H x W)')
        ax.set_ylabel(label)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=8)
    first = (report['rows'] or [{}])[0]
    fig.suptitle(title or f"{report['config']} ({first.get('dtype')}, "
                          f"{report['machine']['threads']} threads)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
