"""Write what a data pipeline feeds the model (image | label overlay) as PNGs.

Use it to check augmentations::

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir browse --num 8

One ``<index>_<image stem>.png`` per sample, image and labels side by side. The
test pipelines (``--split val|test``) resize the image but load the labels at the
original size, as the metric compares there; such images are drawn resized back to
the labels' size.
"""
import argparse
import os
import os.path as osp
import uuid

import cv2
import numpy as np

from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Save data-pipeline outputs as PNGs')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', default='browse_dataset', help='folder for the PNGs')
    parser.add_argument('--num', type=int, default=8, help='how many samples to save')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='which dataloader\'s dataset and pipeline to browse')
    parser.add_argument('--opacity', type=float, default=0.5, help='label overlay opacity')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={},
                        help='override config keys, as in tools/train.py')
    args = parser.parse_args(argv)
    if args.num <= 0:
        parser.error(f'--num must be positive, got {args.num}')
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    return args


def sample_image(item: dict) -> np.ndarray:
    """The (H, W, 3) RGB uint8 image of a pipeline output, at its labels' size.

    Args:
        item (dict): ``inputs`` (3, h, w) BGR tensor and ``data_samples`` (with
            ``gt_sem_seg`` (1, H, W) when the pipeline loads labels).

    Returns:
        np.ndarray: C-contiguous (H, W, 3) RGB, resized to (H, W) if needed.
    """
    image = np.ascontiguousarray(item['inputs'].permute(1, 2, 0).numpy()[..., ::-1])
    gt = getattr(item['data_samples'], 'gt_sem_seg', None)
    if gt is not None and tuple(gt.data.shape[-2:]) != image.shape[:2]:
        height, width = gt.data.shape[-2:]
        image = cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    return image.astype(np.uint8)


def main(argv=None) -> list:
    args = parse_args(argv)
    from fcn_mm.registry import DATASETS, VISUALIZERS
    from fcn_mm.utils import register_all_modules
    from fcn_mm.utils.config_check import load_config

    register_all_modules()
    cfg = load_config(args.config, cfg_options=args.cfg_options)
    if cfg.get('demo_data'):
        from fcn_mm.datasets.demo_data import prepare_demo_data
        prepare_demo_data(**cfg.demo_data)
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    visualizer = VISUALIZERS.build(dict(
        type='SegLocalVisualizer', name=f'browse_dataset_{uuid.uuid4().hex[:8]}',
        alpha=args.opacity))
    visualizer.dataset_meta = dataset.metainfo
    os.makedirs(args.output_dir, exist_ok=True)
    written = []
    for index in range(min(args.num, len(dataset))):
        item = dataset[index]
        sample = item['data_samples']
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        out_file = osp.join(args.output_dir, f'{index:03d}_{stem}.png')
        visualizer.add_datasample(stem, sample_image(item), sample, draw_gt=True,
                                  draw_pred=False, show=False, out_file=out_file)
        written.append(out_file)
    print(f'Saved {len(written)} {args.split} samples to {args.output_dir}')
    return written


if __name__ == '__main__':
    main()
