"""Check every mask of a config's datasets before training on them.

    python tools/misc/check_dataset.py CONFIG [--num-samples N] [--split train val test]
        [--cfg-options k=v ...]

Reads the masks of the train, val and test datasets (each dataset once; wrappers such
as ConcatDataset are opened) and reports, per dataset, what makes training or the
metric meaningless (errors) and what is probably wrong (warnings): RGB masks, binary
masks stored as 0/255, labels outside ``[0, num_classes)`` and the ignore index (after
``reduce_zero_label`` and ``label_map``), ``reduce_zero_label`` that contradicts the
data, heads whose ``num_classes`` differ from the classes, image and mask sizes that
differ, images without masks. ``tools/train.py`` runs the same check on a sample
(``label_check = dict(num_samples=50)``). Exit status 1 when there is an error.
The findings are explained in docs/dataset_prepare.md ("Checking the labels").
"""
import argparse
import sys
import time

from fcn_mm.datasets.demo_data import prepare_demo_data
from fcn_mm.datasets.label_check import ALL_DATALOADERS, run_label_check
from fcn_mm.utils.cfg_options import CfgOptionsAction
from fcn_mm.utils.config_check import load_config
from fcn_mm.utils.setup_env import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check the masks of a config\'s datasets')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--num-samples', type=int, default=None,
                        help='masks to check per dataset, evenly spaced (default: all)')
    parser.add_argument('--split', nargs='+', choices=('train', 'val', 'test'),
                        default=['train', 'val', 'test'],
                        help='which dataloaders\' datasets (default: all three)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings, e.g. train_dataloader.dataset.data_root=data/mine')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, cfg_options=args.cfg_options)
    if cfg.get('demo_data') is not None:  # the demo config's generated data
        prepare_demo_data(**cfg.demo_data)
    loaders = [k for k in ALL_DATALOADERS if k.split('_')[0] in args.split]
    start = time.perf_counter()
    report = run_label_check(cfg, args.num_samples, loaders, progress=True)
    for finding in report.findings:
        print(finding)
    print(report.summary())
    print(f'label check: {len(report.errors)} error(s), {len(report.warnings)} warning(s) '
          f'in {time.perf_counter() - start:.1f} s')
    sys.exit(1 if report.errors else 0)


if __name__ == '__main__':
    main()
