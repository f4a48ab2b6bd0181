"""Write a normalised confusion-matrix PNG with class names.

From a model::

    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT --out cm.png

or from predictions saved by ``tools/test.py --out DIR``::

    python tools/analysis_tools/confusion_matrix.py CONFIG --pred-dir DIR --out cm.png

Rows are ground truth, columns prediction; each row is normalised to 100%. The PNG is
``max(4, 0.45 * classes + 2)`` inches square at ``--dpi``. The mIoU of the matrix
(as ``IoUMetric`` computes it) is printed too.
"""
import argparse
import os.path as osp

import numpy as np
from PIL import Image

from fcn_mm.analysis.confusion_plot import plot_confusion_matrix
from fcn_mm.evaluation import confusion_matrix, iou_from_confusion
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Confusion matrix of a segmentation model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (omit with --pred-dir)')
    parser.add_argument('--pred-dir', help='folder of <stem>.png predictions (test.py --out)')
    parser.add_argument('--out', default='confusion_matrix.png', help='output PNG')
    parser.add_argument('--dpi', type=int, default=100, help='dots per inch of the PNG')
    parser.add_argument('--device', default='cpu', help='device for the model')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={},
                        help='override config keys, as in tools/train.py')
    args = parser.parse_args(argv)
    if bool(args.checkpoint) == bool(args.pred_dir):
        parser.error('give exactly one of CHECKPOINT or --pred-dir')
    if args.dpi <= 0:
        parser.error(f'--dpi must be positive, got {args.dpi}')
    return args


def _load_cfg(args):
    from fcn_mm.utils.config_check import load_config
    cfg = load_config(args.config, cfg_options=args.cfg_options)
    if cfg.get('demo_data'):
        from fcn_mm.datasets.demo_data import prepare_demo_data
        prepare_demo_data(**cfg.demo_data)
    return cfg


def matrix_from_predictions(cfg, pred_dir: str) -> tuple:
    """Accumulate the confusion matrix of saved 'P' PNG predictions against the test set."""
    from fcn_mm.registry import DATASETS
    from fcn_mm.utils import register_all_modules
    register_all_modules()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = dataset.metainfo['classes']
    total = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        pred_file = osp.join(pred_dir, f'{stem}.png')
        if not osp.isfile(pred_file):
            raise FileNotFoundError(
                f'No prediction {pred_file} for the test image {info["img_path"]}: '
                '--pred-dir must hold one <image stem>.png per test image, as written by '
                'tools/test.py CONFIG CHECKPOINT --out DIR with the same config.')
        label = np.array(Image.open(info['seg_map_path']))
        pred = np.array(Image.open(pred_file)).astype(np.int64)
        if info.get('reduce_zero_label'):  # the PNGs hold pred + 1, as the labels do
            label = np.where(label == 0, 255, label - 1).astype(np.uint8)
            label[label == 254] = 255
            pred -= 1
        total += confusion_matrix(label, pred, len(classes))
    return total, classes


def matrix_from_model(cfg, checkpoint: str, device: str) -> tuple:
    """Run the model over the test dataloader and accumulate the confusion matrix."""
    from mmengine.runner import Runner

    from fcn_mm.apis import init_model
    model = init_model(cfg, checkpoint, device=device)
    classes = model.dataset_meta['classes']
    loader = Runner.build_dataloader(cfg.test_dataloader)
    total = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for batch in loader:
        for sample in model.test_step(batch):
            total += confusion_matrix(sample.gt_sem_seg.data.cpu().numpy(),
                                      sample.pred_sem_seg.data.cpu().numpy(), len(classes))
    return total, classes


def main(argv=None) -> np.ndarray:
    args = parse_args(argv)
    cfg = _load_cfg(args)
    if args.pred_dir:
        matrix, classes = matrix_from_predictions(cfg, args.pred_dir)
    else:
        matrix, classes = matrix_from_model(cfg, args.checkpoint, args.device)
    plot_confusion_matrix(matrix, list(classes), args.out, dpi=args.dpi)
    iou = iou_from_confusion(matrix)
    miou = float(np.nanmean(iou)) * 100 if not np.isnan(iou).all() else float('nan')
    print(f'Saved the confusion matrix of {int(matrix.sum())} labelled pixels '
          f'({len(classes)} classes, mIoU {miou:.2f}) to {args.out}')
    return matrix


if __name__ == '__main__':
    main()
