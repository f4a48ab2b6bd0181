"""A tiny training set-up for the reliability tests (also runnable as a subprocess).

The data path is fcn_mm's real one (PascalVOCDataset, LoadImageFromFile,
LoadAnnotations, RandomCrop, RandomFlip, PhotoMetricDistortion, PackSegInputs) on a
generated 24 px VOC-like set; the model is a 2-conv net with BatchNorm and dropout,
so random augmentations and dropout are both in play.

As a script: ``python _reliability_toy.py '<json kwargs of make_cfg>'`` trains once
(honouring ``FCN_MM_FAULT_INJECT``) and saves the final weights to
``<work_dir>/final_weights.pt``.
"""
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import HOOKS as ROOT_HOOKS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.structures import PixelData
from PIL import Image

NUM_CLASSES = 21
IMG_SIZE = 24
CROP = (20, 20)
_VOC = 'VOCdevkit/VOC2012'


def make_voc(root: str, num: int = 8, seed: int = 0) -> str:
    """Write ``num`` random 24x24 JPEGs and palette label PNGs in the VOC layout.

    Returns:
        str: the ``data_root`` (``<root>/VOCdevkit/VOC2012``).
    """
    data_root = osp.join(root, _VOC)
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(data_root, sub), exist_ok=True)
    rng = np.random.default_rng(seed)
    stems = [f'2007_{i:06d}' for i in range(num)]
    for stem in stems:
        img = rng.integers(0, 256, (IMG_SIZE, IMG_SIZE, 3), dtype=np.uint8)
        Image.fromarray(img).save(osp.join(data_root, 'JPEGImages', stem + '.jpg'))
        label = rng.integers(0, 4, (IMG_SIZE, IMG_SIZE), dtype=np.uint8)
        label[:2] = 255
        write_label(osp.join(data_root, 'SegmentationClass', stem + '.png'), label)
    with open(osp.join(data_root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write('\n'.join(stems) + '\n')
    return data_root


def write_label(path: str, label: np.ndarray) -> None:
    """Save ``label`` (H, W) uint8 as an 8-bit palette PNG."""
    png = Image.frombytes('P', (label.shape[1], label.shape[0]), label.tobytes())
    png.putpalette([v for i in range(256) for v in (i, i, i)])
    png.save(path)


@ROOT_MODELS.register_module(name='RelToySegModel', force=True)
class ToySegModel(BaseModel):
    """conv-BN-ReLU-dropout, two 1x1 classifiers; optional NaN at one train step.

    Args:
        nan_at (int, optional): the training forward (1-based) whose loss is NaN.
    """

    def __init__(self, nan_at: Optional[int] = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout2d(0.3)
        self.cls = nn.Conv2d(4, NUM_CLASSES, 1)
        self.aux = nn.Conv2d(4, NUM_CLASSES, 1)
        self.nan_at = nan_at
        self.register_buffer('train_steps', torch.zeros((), dtype=torch.long))

    def forward(self, inputs: List[torch.Tensor], data_samples=None, mode: str = 'tensor'):
        x = torch.stack(inputs).float() / 255.0
        feat = self.drop(F.relu(self.bn(self.conv(x))))
        logits = self.cls(feat)
        if mode == 'tensor':
            return logits
        if mode == 'predict':
            for sample, pred in zip(data_samples, logits.argmax(1)):
                sample.pred_sem_seg = PixelData(data=pred[None])
            return data_samples
        gt = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        loss = F.cross_entropy(logits, gt, ignore_index=255)
        if self.training:
            self.train_steps += 1
            if self.nan_at is not None and int(self.train_steps) == self.nan_at:
                loss = loss * float('nan')
        valid = gt != 255
        acc = (logits.argmax(1)[valid] == gt[valid]).float().mean() * 100
        return {'decode.loss_ce': loss, 'decode.acc_seg': acc.detach(),
                'aux.loss_ce': 0.4 * F.cross_entropy(self.aux(feat), gt, ignore_index=255)}


@ROOT_HOOKS.register_module(name='RelLossRecorderHook', force=True)
class LossRecorderHook(Hook):
    """Append ``{"iter": i, <log var>: value}`` per training iteration to a file."""

    priority = 'VERY_HIGH'

    def __init__(self, path: str) -> None:
        self.path = path

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        row = {'iter': runner.iter + 1}
        row.update({k: float(v.detach() if torch.is_tensor(v) else v)
                    for k, v in (outputs or {}).items()})
        with open(self.path, 'a') as f:
            f.write(json.dumps(row) + '\n')
            f.flush()
            os.fsync(f.fileno())


@ROOT_HOOKS.register_module(name='RelStopHook', force=True)
class StopHook(Hook):
    """Stop training cleanly after iteration ``stop_at`` (its checkpoint is saved)."""

    def __init__(self, stop_at: int) -> None:
        self.stop_at = stop_at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.stop_at:
            runner.train_loop.stop_training = True


def read_losses(path: str) -> List[dict]:
    """The rows written by :class:`LossRecorderHook` (empty list if none)."""
    if not osp.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pipeline() -> list:
    return [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomCrop', crop_size=CROP), dict(type='RandomFlip', prob=0.5),
            dict(type='PhotoMetricDistortion'), dict(type='PackSegInputs')]


def dataset_cfg(data_root: str, test_mode: bool = False) -> dict:
    pipe = pipeline() if not test_mode else [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')]
    return dict(type='PascalVOCDataset', data_root=data_root,
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                ann_file='ImageSets/Segmentation/train.txt', pipeline=pipe,
                test_mode=test_mode)


def make_cfg(work_dir: str, data_root: str, max_iters: int = 8, interval: int = 1,
             num_workers: int = 0, batch_size: int = 2, resume: bool = False,
             shuffle: bool = True, nan_at: Optional[int] = None,
             skip_nonfinite: bool = False, max_keep_ckpts: int = 2,
             name: str = 'toy', optimizer: Optional[dict] = None,
             stop_at: Optional[int] = None, seed: int = 42) -> dict:
    """The config of one toy training run.

    The toy model and hook live in mmengine's root registries (reached from the
    ``fcn_mm`` scope through the parent), so fcn_mm's registries stay clean.
    """
    return dict(
        model=dict(type='RelToySegModel', nan_at=nan_at),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            batch_size=batch_size, num_workers=num_workers,
            persistent_workers=num_workers > 0,
            sampler=dict(type='InfiniteSampler', shuffle=shuffle),
            dataset=dataset_cfg(data_root)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000),
        optim_wrapper=dict(type='OptimWrapper', skip_nonfinite=skip_nonfinite,
                           optimizer=optimizer or dict(type='SGD', lr=0.05, momentum=0.9,
                                                       weight_decay=5e-4)),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                              end=max_iters, by_epoch=False)],
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=interval,
                            max_keep_ckpts=max_keep_ckpts, min_free_mb=0)),
        custom_hooks=[dict(type='RelLossRecorderHook',
                           path=osp.join(work_dir, 'losses.jsonl'))]
        + ([dict(type='RelStopHook', stop_at=stop_at)] if stop_at else []),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=seed, deterministic=True),
        default_scope='fcn_mm',
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'),
                     mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0)),
        log_level='INFO',
        resume=resume,
        load_from=None)


def build_runner(cfg: dict):
    """Build a Runner from ``make_cfg`` output (fcn_mm registered, default scope)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from fcn_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return Runner.from_cfg(Config(cfg))


def final_weights(runner) -> dict:
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def main() -> None:
    torch.set_num_threads(1)
    kwargs = json.loads(sys.argv[1])
    runner = build_runner(make_cfg(**kwargs))
    runner.train()
    torch.save(final_weights(runner), osp.join(kwargs['work_dir'], 'final_weights.pt'))


if __name__ == '__main__':
    main()
