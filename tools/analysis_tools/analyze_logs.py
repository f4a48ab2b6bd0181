"""Plot loss and mIoU curves from one or more work dirs' JSON logs to a PNG.

Example::

    python tools/analysis_tools/analyze_logs.py work_dirs/fcn_r18-d8_demo \
        --keys loss mIoU --out curves.png
"""
import argparse

from fcn_mm.visualization.log_plots import load_scalar_log, plot_curves


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot training curves from JSON logs')
    parser.add_argument('logs', nargs='+',
                        help='work dirs, run folders or scalars.json files')
    parser.add_argument('--keys', nargs='+', default=['loss', 'mIoU'],
                        help='scalars to plot, one panel each')
    parser.add_argument('--legend', nargs='+', help='one label per log')
    parser.add_argument('--title', default='', help='figure title')
    parser.add_argument('--out', default='curves.png', help='output PNG')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    logs = [load_scalar_log(path) for path in args.logs]
    out = plot_curves(logs, args.keys, args.out, legends=args.legend, title=args.title)
    print(f'Saved {", ".join(args.keys)} curves of {len(logs)} run(s) to {out}')


if __name__ == '__main__':
    main()
