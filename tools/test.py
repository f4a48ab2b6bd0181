"""Test (evaluate) a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Prints the per-class IoU/Acc table and aAcc / mIoU / mAcc (``IoUMetric``), and
writes the metrics to ``<work_dir>/test_metrics_<timestamp>.json`` (path printed).

Config contract (MMSegmentation 1.x keys): ``model``, ``test_dataloader``,
``test_cfg``, ``test_evaluator``, ``default_hooks``, ``visualizer``,
``default_scope='fcn_mm'``; ``tta_model`` and ``tta_pipeline`` for ``--tta``;
optional ``demo_data`` (generate the demo data set first).

Options:
    --work-dir DIR     logs and the metrics JSON (CLI > config > ./work_dirs/<stem>)
    --out DIR          one 8-bit palette PNG per image, ``<stem>.png``, class indices
    --show-dir DIR     drawings of image | ground truth | prediction
    --tta              test-time augmentation (``tta_model`` + ``tta_pipeline``)
    --cfg-options k=v  override config entries
    --launcher L       none | pytorch (torchrun) | slurm | mpi
    --backend B        pytorch (CHECKPOINT is a .pth) | onnxruntime (CHECKPOINT is an
                       .onnx file from tools/deployment/pytorch2onnx.py, or an int8 one
                       from tools/deployment/quantize.py)
"""
import argparse
import os
import os.path as osp

from mmengine.dist import get_dist_info

from fcn_mm.apis.distributed import LAUNCHERS, teardown_distributed
from fcn_mm.apis.speed import apply_speed_to_runner
from fcn_mm.apis.testing import BACKENDS, setup_test_config, write_metrics_json
from fcn_mm.apis.training import build_runner, log_run_info
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a segmentor (fcn_mm)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (.onnx for --backend onnxruntime)')
    parser.add_argument('--work-dir', help='the dir for logs and the metrics JSON')
    parser.add_argument('--out', metavar='DIR',
                        help='save the predictions as 8-bit palette PNGs in DIR')
    parser.add_argument('--show-dir', metavar='DIR',
                        help='save image | ground truth | prediction drawings in DIR')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings in the config, key=value pairs, e.g. '
        'test_dataloader.dataset.data_root=data/VOCdevkit/VOC2012')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher')
    parser.add_argument('--backend', choices=BACKENDS, default='pytorch',
                        help='run the PyTorch checkpoint, or an exported .onnx file '
                        'with ONNX Runtime')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None)
    args = parser.parse_args()
    if args.local_rank is not None and 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = setup_test_config(
        args.config, args.checkpoint, cfg_options=args.cfg_options,
        work_dir=args.work_dir, out_dir=args.out, show_dir=args.show_dir,
        tta=args.tta, launcher=args.launcher, local_rank=args.local_rank,
        backend=args.backend)
    runner = build_runner(cfg)
    log_run_info(runner)
    apply_speed_to_runner(runner, cfg, training=False)
    metrics = runner.test()
    if get_dist_info()[0] == 0:
        path = write_metrics_json(metrics, runner.work_dir, runner.timestamp,
                                  args.config, args.checkpoint)
        summary = ', '.join(f'{k}: {v}' for k, v in metrics.items())
        print(f'{summary}\nMetrics written to {path}')
        if args.out:
            print(f'Prediction PNGs written to {osp.abspath(args.out)}')
        if args.show_dir:
            print('Drawings written to '
                  f'{osp.join(runner.work_dir, runner.timestamp, args.show_dir)}')
    teardown_distributed()


if __name__ == '__main__':
    main()
