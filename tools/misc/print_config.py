"""Print a config after inheritance, ``--cfg-options`` and the pre-flight check.

Usage: ``python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]``

The config is read with :func:`fcn_mm.utils.load_config` (a missing ``_base_`` file
names the config that asked for it) and checked with
:func:`fcn_mm.utils.check_config` (unknown types, keywords and checkpoints fail
here, before anything is built). ``--skip-checkpoints`` prints a config whose
pretrained files are not on this machine.
"""
import argparse

from fcn_mm.utils import check_config, load_config
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the merged, checked config.')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings, e.g. model.decode_head.num_classes=21 or '
        'train_dataloader.dataset.pipeline.2.scale="(512,512)"')
    parser.add_argument('--skip-checkpoints', action='store_true',
                        help='do not look up pretrained / load_from files')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    check_config(cfg, check_checkpoints=not args.skip_checkpoints)
    print(f'Config:\n{cfg.pretty_text}')


if __name__ == '__main__':
    main()
