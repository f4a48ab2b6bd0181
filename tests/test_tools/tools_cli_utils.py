"""Helpers for the command-line tests: a tiny VOC-layout data set, a tiny config, and
a runner for the CLIs (subprocesses with ``sys.executable``, one thread each)."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import List, Optional

import numpy as np
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_NAMES = ['2007_000001', '2007_000002', '2007_000003', '2007_000004']
VAL_NAMES = ['2008_000001', '2008_000002', '2008_000003']  # odd: 2 ranks pad it


def _voc_palette() -> list:
    colours = np.zeros((256, 3), np.uint8)
    for i in range(256):
        value, c = i, np.zeros(3, np.int64)
        for shift in range(7, -1, -1):
            c |= ((value >> np.arange(3)) & 1) << shift
            value >>= 3
        colours[i] = c
    return colours.reshape(-1).tolist()


def make_voc_folder(root: str, height: int = 40, width: int = 48, seed: int = 0) -> str:
    """Write a few images and palette label PNGs in the Pascal VOC 2012 layout.

    Each image has a dark background (class 0), a bright rectangle of class 15
    (person) or 1 (aeroplane), and a void (255) border line, so a model can learn it.
    """
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    palette = _voc_palette()
    for index, name in enumerate(TRAIN_NAMES + VAL_NAMES):
        label = np.zeros((height, width), np.uint8)
        cls = 15 if index % 2 == 0 else 1
        y0, x0 = rng.integers(2, height // 2), rng.integers(2, width // 2)
        label[y0:y0 + height // 3, x0:x0 + width // 3] = cls
        label[0, :] = 255
        image = rng.integers(0, 40, (height, width, 3)).astype(np.uint8)
        image[label == 15] = (200, 60, 60)
        image[label == 1] = (60, 200, 60)
        Image.fromarray(image).save(osp.join(root, 'JPEGImages', f'{name}.jpg'), quality=95)
        png = Image.frombytes('P', (width, height), label.tobytes())
        png.putpalette(palette)
        png.save(osp.join(root, 'SegmentationClass', f'{name}.png'))
    for split, names in (('train', TRAIN_NAMES), ('val', VAL_NAMES)):
        with open(osp.join(root, 'ImageSets/Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return root


TINY_CONFIG = """
_base_ = ['{repo}/configs/_base_/default_runtime.py',
          '{repo}/configs/_base_/schedules/schedule_20k.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)  # the tools turn it into BN
crop_size = (32, 32)
data_root = '{root}'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
        size=crop_size),
    pretrained=None,
    backbone=dict(
        type='ResNetV1c', depth=18, stem_channels=8, base_channels=4, num_stages=4,
        out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg, norm_eval=False, style='pytorch', contract_dilation=True),
    decode_head=dict(
        type='FCNHead', in_channels=32, in_index=3, channels=8, num_convs=2,
        concat_input=True, dropout_ratio=0.1, num_classes=21, norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=16, in_index=2, channels=8, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=21, norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]]),
]
_dataset = dict(
    type='PascalVOCDataset', data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_dataset, ann_file='ImageSets/Segmentation/train.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, ann_file='ImageSets/Segmentation/val.txt',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=4,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=1000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
randomness = dict(seed=0)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_cli(args: List[str], timeout: float = 240, python: bool = True,
            extra_env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` (or ``<args>`` with ``python=False``) from the repo root with
    one thread per process; fail with the command's output."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    env.update(extra_env or {})
    command = ([sys.executable] if python else []) + list(args)
    proc = subprocess.run(command, cwd=REPO, env=env, text=True, capture_output=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(command)} exited with {proc.returncode}\n'
                             f'--- stdout ---\n{proc.stdout[-6000:]}\n'
                             f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc
