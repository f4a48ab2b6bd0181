"""Parameters, FLOPs and MACs of a config's model at one input size.

Example::

    python tools/analysis_tools/get_flops.py configs/fcn/fcn_r50-d8_480x480_voc.py \
        --shape 480 480 [--with-aux]

FLOPs are 2 per multiply-add (``torch.utils.flop_counter``), of one (1, 3, H, W)
image through the inference (``tensor``) path; the auxiliary head, which only
training runs, is counted with ``--with-aux``. The model is built on the ``meta``
device: nothing is computed or downloaded. The core is
:func:`fcn_mm.analysis.flops.get_model_complexity` (returns a dict).
"""
import argparse

from fcn_mm.analysis.benchmark.report import format_complexity
from fcn_mm.analysis.flops import get_model_complexity
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs (fcn_mm)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs='+', default=[512, 512],
                        help='input size: H W, or one number for a square')
    parser.add_argument('--with-aux', action='store_true',
                        help='also count the auxiliary head(s)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. model.decode_head.num_classes=6')
    args = parser.parse_args(argv)
    if len(args.shape) == 1:
        args.shape = args.shape * 2
    if len(args.shape) != 2:
        parser.error(f'--shape takes H W or one size, got {args.shape}')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    info = get_model_complexity(args.config, args.shape, with_aux=args.with_aux,
                                cfg_options=args.cfg_options)
    print(format_complexity(info, args.config))
    return info


if __name__ == '__main__':
    main()
