"""Train a config in float32 and with ``--amp`` for several seeds; compare the final mIoU.

One training run per (seed, precision), each ``tools/train.py CONFIG [--amp]
--cfg-options randomness.seed=SEED`` in its own process, one after the other (for a
config that already trains with ``AmpOptimWrapper``, such as the demo, the float32 run
adds ``optim_wrapper.dtype=float32``: the same wrapper without autocast). The last
validation of every run is read from its scalar log and printed as a table with the mean,
the sample standard deviation and the mean gap (amp minus float32)::

    python tools/analysis_tools/compare_amp_training.py configs/fcn/fcn_r18-d8_demo.py \
        --seeds 0 1 2 --work-dir work_dirs/amp_check

A run whose work dir already holds a finished log is not trained again (``--retrain``
forces it), so an interrupted comparison continues where it stopped. The exit status is 1
when the mean gap is larger than ``--tolerance`` mIoU points.
"""
import argparse
import math
import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRECISIONS = ('fp32', 'amp')


@dataclass
class RunResult:
    """The final validation of one training run.

    Attributes:
        seed (int): ``randomness.seed`` of the run.
        precision (str): ``'fp32'`` or ``'amp'``.
        metric (float): the compared metric (e.g. mIoU) at the last validation.
        step (int): the iteration of that validation.
    """
    seed: int
    precision: str
    metric: float
    step: int


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='float32 vs --amp training of one config over several seeds')
    parser.add_argument('config', help='training config file')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='randomness.seed of each pair of runs')
    parser.add_argument('--work-dir', default=None,
                        help='parent folder of the runs (default: '
                        'work_dirs/amp_check/<config name>)')
    parser.add_argument('--metric', default='mIoU', help='validation metric to compare')
    parser.add_argument('--tolerance', type=float, default=1.0,
                        help='largest accepted |mean gap| in metric points')
    parser.add_argument('--threads', type=int, default=None,
                        help='OMP_NUM_THREADS for every run (default: inherited)')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even where a finished run exists')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every tools/train.py run')
    return parser.parse_args(argv)


def run_dir(work_dir: str, precision: str, seed: int) -> str:
    """The work dir of one run: ``<work_dir>/<precision>_seed<seed>``."""
    return osp.join(work_dir, f'{precision}_seed{seed}')


def final_metric(folder: str, metric: str, max_iters: Optional[int] = None
                 ) -> Optional[Tuple[int, float]]:
    """(step, value) of the last validation ``metric`` of the run in ``folder``.

    None when the folder holds no run or the run has no such validation.

    Args:
        folder (str): a training work dir (holding ``<timestamp>/vis_data/scalars.json``).
        metric (str): validation key, e.g. ``'mIoU'``.
        max_iters (int, optional): when given, a run whose last validation is earlier
            counts as unfinished (None).
    """
    from fcn_mm.analysis.log_plots import load_scalar_log
    try:
        log = load_scalar_log(folder)
    except FileNotFoundError:
        return None
    values = log.val.get(metric)
    if not values:
        return None
    step, value = values[-1]
    if max_iters is not None and step < max_iters:
        return None
    return int(step), float(value)


def train_command(config: str, folder: str, seed: int, precision: str,
                  cfg_options: Sequence[str], config_amp: bool = False) -> List[str]:
    """The ``tools/train.py`` command line of one run.

    ``config_amp``: the config itself trains with ``AmpOptimWrapper``; its float32
    run then sets ``optim_wrapper.dtype=float32`` (no autocast). The amp run sets
    ``optim_wrapper.dtype=bfloat16`` (unless ``cfg_options`` names a dtype): a comparison
    of precisions must not let the CPU's bf16 speed probe turn it into float32 twice.
    """
    command = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
               '--work-dir', folder]
    options = [f'randomness.seed={seed}']
    if precision == 'amp':
        command.append('--amp')
        if not any(opt.startswith('optim_wrapper.dtype=') for opt in cfg_options):
            options.append('optim_wrapper.dtype=bfloat16')
    elif config_amp:
        options.append('optim_wrapper.dtype=float32')
    return command + ['--cfg-options', *options, *cfg_options]


def summarize(results: Sequence[RunResult], metric: str) -> Dict[str, float]:
    """Mean and sample standard deviation per precision, and the mean gap (amp - fp32).

    Returns:
        dict: ``fp32_mean``, ``fp32_std``, ``amp_mean``, ``amp_std``, ``gap``; a std is
        nan for a single run.
    """
    summary = {}
    for precision in PRECISIONS:
        values = [r.metric for r in results if r.precision == precision]
        if not values:
            raise ValueError(f'no {precision} run has a final {metric}')
        mean = sum(values) / len(values)
        var = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)
               if len(values) > 1 else math.nan)
        summary[f'{precision}_mean'] = mean
        summary[f'{precision}_std'] = math.sqrt(var)
    summary['gap'] = summary['amp_mean'] - summary['fp32_mean']
    return summary


def format_table(results: Sequence[RunResult], metric: str) -> str:
    """One row per seed (fp32, amp, amp - fp32), then the mean and the std."""
    by_key = {(r.seed, r.precision): r.metric for r in results}
    seeds = sorted({r.seed for r in results})
    lines = [f'| seed | fp32 {metric} | amp {metric} | amp - fp32 |', '|---|---|---|---|']
    for seed in seeds:
        fp32, amp = by_key.get((seed, 'fp32')), by_key.get((seed, 'amp'))
        cells = [f'{v:.2f}' if v is not None else '-' for v in (fp32, amp)]
        gap = f'{amp - fp32:+.2f}' if fp32 is not None and amp is not None else '-'
        lines.append(f'| {seed} | {cells[0]} | {cells[1]} | {gap} |')
    s = summarize(results, metric)
    lines.append(f'| mean | {s["fp32_mean"]:.2f} | {s["amp_mean"]:.2f} | {s["gap"]:+.2f} |')
    lines.append(f'| std | {s["fp32_std"]:.2f} | {s["amp_std"]:.2f} | |')
    return '\n'.join(lines)


def _config_facts(config: str, cfg_options: Sequence[str]) -> Tuple[Optional[int], bool]:
    """``train_cfg.max_iters`` (None if not set) and whether the config trains with
    ``AmpOptimWrapper``, after the options."""
    from fcn_mm.utils.cfg_options import CfgOptionsAction
    from fcn_mm.utils.config_check import load_config
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={})
    options = parser.parse_args(['--cfg-options', *cfg_options] if cfg_options else [])
    cfg = load_config(config, cfg_options=options.cfg_options)
    wrapper = cfg.get('optim_wrapper') or {}
    return cfg.get('train_cfg', {}).get('max_iters'), wrapper.get('type') == 'AmpOptimWrapper'


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'compare_amp_training: config file "{args.config}" does not exist')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', 'amp_check', name)
    max_iters, config_amp = _config_facts(args.config, args.cfg_options)
    env = dict(os.environ)
    if args.threads is not None:
        env['OMP_NUM_THREADS'] = str(args.threads)
    results = []
    for seed in args.seeds:
        for precision in PRECISIONS:
            folder = run_dir(work_dir, precision, seed)
            found = None if args.retrain else final_metric(folder, args.metric, max_iters)
            if found is None:
                command = train_command(args.config, folder, seed, precision,
                                        args.cfg_options, config_amp)
                print(f'training {precision} seed {seed}: {" ".join(command)}', flush=True)
                proc = subprocess.run(command, cwd=os.getcwd(), env=env)
                if proc.returncode != 0:
                    raise SystemExit(f'compare_amp_training: the {precision} run of seed '
                                     f'{seed} failed (exit {proc.returncode}); its log is '
                                     f'under {folder}')
                found = final_metric(folder, args.metric, max_iters)
                if found is None:
                    raise SystemExit(f'compare_amp_training: the {precision} run of seed '
                                     f'{seed} finished without a final validation '
                                     f'{args.metric} in {folder}; the config must validate '
                                     'at its last iteration')
            else:
                print(f'{precision} seed {seed}: reusing the finished run in {folder}')
            results.append(RunResult(seed, precision, metric=found[1], step=found[0]))
    print(format_table(results, args.metric))
    gap = summarize(results, args.metric)['gap']
    within = abs(gap) <= args.tolerance
    print(f'mean gap {gap:+.2f} {args.metric} points over {len(args.seeds)} seed(s): '
          f'{"within" if within else "outside"} the tolerance of {args.tolerance}')
    return 0 if within else 1


if __name__ == '__main__':
    sys.exit(main())
