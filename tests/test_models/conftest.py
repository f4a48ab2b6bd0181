"""Fixtures for model tests: configs of tiny FCNs (narrow ResNetV1c, few classes)."""
import copy

import pytest
import torch
from mmengine.structures import PixelData

from fcn_mm.structures import SegDataSample

BN = dict(type='BN', requires_grad=True)


def _tiny_fcn_cfg(num_classes: int = 4, depth: int = 18, test_cfg=None) -> dict:
    """ResNetV1c-d8 with 8 stem / 4 base channels and two FCN heads, BN, no weights."""
    expansion = 1 if depth in (18, 34) else 4
    chans = [4 * 2**i * expansion for i in range(4)]
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ResNetV1c', depth=depth, stem_channels=8, base_channels=4,
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=BN,
                      contract_dilation=True),
        decode_head=dict(type='FCNHead', in_channels=chans[3], in_index=3, channels=16,
                         num_convs=2, concat_input=True, dropout_ratio=0.1,
                         num_classes=num_classes, norm_cfg=BN, align_corners=False),
        auxiliary_head=dict(type='FCNHead', in_channels=chans[2], in_index=2, channels=8,
                            num_convs=1, concat_input=False, dropout_ratio=0.1,
                            num_classes=num_classes, norm_cfg=BN, align_corners=False,
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=test_cfg or dict(mode='whole'))


@pytest.fixture(autouse=True)
def _model_tests_on_one_thread(one_thread):
    """Model tests use tiny tensors: one intra-op thread avoids thread contention."""


@pytest.fixture
def tiny_fcn_cfg():
    """Factory: ``tiny_fcn_cfg(num_classes=4, depth=18, test_cfg=None) -> dict``."""
    return lambda **kwargs: copy.deepcopy(_tiny_fcn_cfg(**kwargs))


def _sample(label: torch.Tensor = None, **metainfo) -> SegDataSample:
    sample = SegDataSample(metainfo=metainfo)
    if label is not None:
        sample.gt_sem_seg = PixelData(data=label.long().reshape(1, *label.shape[-2:]))
    return sample


@pytest.fixture
def make_sample():
    """Factory: ``make_sample(label (H, W) or None, **metainfo) -> SegDataSample``."""
    return _sample
