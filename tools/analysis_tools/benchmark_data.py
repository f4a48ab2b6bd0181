"""Measure the data path: training-pipeline throughput and IoUMetric time.

    python tools/analysis_tools/benchmark_data.py [--config CFG] [--num-images 100]

1. Writes ``--num-images`` 500x375 JPEGs with 'P' label PNGs in the VOC layout into a
   temporary folder, builds the config's training dataset (first sub-dataset of a
   ConcatDataset) on it, runs one warm-up pass (files in the page cache), then
   ``--passes`` timed passes in one process (num_workers=0, torch.set_num_threads(1)).
   Prints images/s. Targets: > 150 images/s for the 480x480 VOC pipeline.
2. Times ``IoUMetric`` (process + evaluate) on 200 predictions of 480x480 with 21
   classes. Target: < 0.3 s.

Both wall-clock and process-CPU-time figures are printed, with the machine's 1-minute
load average: on a shared machine the CPU-time figure is the one that does not depend
on how many other processes compete for the cores.
"""
import argparse
import logging
import os
import os.path as osp
import tempfile
import time
from typing import Tuple

import cv2
import numpy as np
import torch
from mmengine import Config
from mmengine.logging import MMLogger
from mmengine.structures import PixelData

from fcn_mm.registry import DATASETS, METRICS
from fcn_mm.structures import SegDataSample
from fcn_mm.utils import register_all_modules
from fcn_mm.utils.label_png import save_label_png

DEFAULT_CONFIG = 'configs/fcn/fcn_r50-d8_480x480_voc.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark the data pipeline and IoUMetric')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--num-images', type=int, default=100)
    parser.add_argument('--passes', type=int, default=3)
    parser.add_argument('--metric-preds', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def write_fake_voc(root: str, num: int, seed: int) -> str:
    """VOC-layout folder of ``num`` 500x375 photo-like JPEGs and object-like labels."""
    rng = np.random.default_rng(seed)
    voc = osp.join(root, 'VOC2012')
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(voc, sub), exist_ok=True)
    ys, xs = np.mgrid[0:375, 0:500]
    stems = [f'2099_{i:06d}' for i in range(num)]
    for stem in stems:
        base = rng.integers(0, 256, 3)
        img = (base + 0.3 * xs[..., None] + 0.2 * ys[..., None]) % 256
        img = img + rng.normal(0, 8, img.shape)
        label = np.zeros((375, 500), np.uint8)
        for _ in range(rng.integers(1, 4)):  # a few objects with void borders
            cy, cx, r = rng.integers(60, 315), rng.integers(60, 440), rng.integers(30, 120)
            inside = (ys - cy) ** 2 + (xs - cx) ** 2
            label[inside < (r + 4) ** 2] = 255
            label[inside < r ** 2] = rng.integers(1, 21)
            img[inside < r ** 2] = rng.integers(0, 256, 3)
        cv2.imwrite(osp.join(voc, 'JPEGImages', stem + '.jpg'),
                    np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        save_label_png(label, osp.join(voc, 'SegmentationClass', stem + '.png'))
    with open(osp.join(voc, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.writelines(s + '\n' for s in stems)
    return voc


def bench_pipeline(config: str, data_root: str, passes: int) -> Tuple[float, float]:
    """Images/s (by wall clock, by process CPU time) of the config's training
    pipeline over the dataset at ``data_root``."""
    cfg = Config.fromfile(config)
    ds_cfg = cfg.train_dataloader.dataset
    if ds_cfg.type == 'ConcatDataset':
        ds_cfg = ds_cfg.datasets[0]
    ds_cfg.update(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt',
                  data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
    dataset = DATASETS.build(ds_cfg)
    for i in range(len(dataset)):  # warm-up: page cache, lazy imports
        dataset[i]
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(passes):
        for i in range(len(dataset)):
            dataset[i]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return passes * len(dataset) / wall, passes * len(dataset) / cpu


def bench_metric(num: int, seed: int) -> Tuple[float, float]:
    """Seconds (wall, process CPU) for IoUMetric.process (batches of 4) + evaluate
    on ``num`` predictions."""
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(num):
        label = torch.randint(0, 21, (1, 480, 480), generator=gen)
        label[:, :40] = 255
        pred = torch.where(torch.rand(1, 480, 480, generator=gen) < 0.7, label % 255,
                           torch.randint(0, 21, (1, 480, 480), generator=gen))
        s = SegDataSample(metainfo=dict(img_path='x.jpg'))
        s.pred_sem_seg, s.gt_sem_seg = PixelData(data=pred), PixelData(data=label)
        samples.append(s.to_dict())
    metric = METRICS.build(dict(type='IoUMetric', iou_metrics=['mIoU']))
    metric.dataset_meta = dict(classes=[str(i) for i in range(21)])
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # keep the per-class table out of the timing
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, num, 4):
        metric.process({}, samples[i:i + 4])
    metric.evaluate(num)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    logger.setLevel(level)
    return wall, cpu


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    register_all_modules()
    with tempfile.TemporaryDirectory() as tmp:
        voc = write_fake_voc(tmp, args.num_images, args.seed)
        rate = bench_pipeline(args.config, voc, args.passes)
    print(f'pipeline: {rate[0]:.1f} images/s wall, {rate[1]:.1f} images/s by CPU time '
          f'({args.num_images} images x {args.passes} passes, 500x375 JPEG, '
          f'{args.config}; target > 150); load avg {os.getloadavg()[0]:.2f} on '
          f'{os.cpu_count()} CPUs')
    seconds = bench_metric(args.metric_preds, args.seed)
    print(f'IoUMetric: {seconds[0]:.3f} s wall, {seconds[1]:.3f} s CPU for '
          f'{args.metric_preds} predictions 480x480, 21 classes (target < 0.3 s); '
          f'load avg {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
