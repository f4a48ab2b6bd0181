"""Plot loss and mIoU curves from one or more work dirs' JSON logs to a PNG.

Example::

    python tools/analysis_tools/analyze_logs.py work_dirs/fcn_r18-d8_demo \
        --keys loss mIoU --out curves.png

Each LOG is a work dir (its newest run, spliced with the earlier runs it resumed
from), a run folder ``<work_dir>/<timestamp>`` or a ``vis_data/scalars.json`` file.
One panel per key, one line per log; the PNG is ``6.4 x (4.0 * number of keys)``
inches at ``--dpi``.
"""
import argparse

from fcn_mm.analysis.log_plots import load_scalar_log, plot_curves


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot training curves from JSON logs')
    parser.add_argument('logs', nargs='+',
                        help='work dirs, run folders or scalars.json files')
    parser.add_argument('--keys', nargs='+', default=['loss', 'mIoU'],
                        help='scalars to plot, one panel each (e.g. loss decode.loss_ce '
                        'decode.acc_seg lr mIoU aAcc)')
    parser.add_argument('--legend', nargs='+', help='one label per log (default: LOGS)')
    parser.add_argument('--title', default='', help='figure title')
    parser.add_argument('--dpi', type=int, default=100, help='dots per inch of the PNG')
    parser.add_argument('--out', default='curves.png', help='output PNG')
    args = parser.parse_args(argv)
    if args.legend and len(args.legend) != len(args.logs):
        parser.error(f'--legend needs one label per log: {len(args.logs)} logs, '
                     f'{len(args.legend)} labels')
    if args.dpi <= 0:
        parser.error(f'--dpi must be positive, got {args.dpi}')
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    logs = [load_scalar_log(path) for path in args.logs]
    out = plot_curves(logs, args.keys, args.out, legends=args.legend or args.logs,
                      title=args.title, dpi=args.dpi)
    for path, log in zip(args.logs, logs):
        print(f'{path}: {", ".join(log.sources)}')
    print(f'Saved {", ".join(args.keys)} curves of {len(logs)} run(s) to {out}')
    return out


if __name__ == '__main__':
    main()
