"""Synthetic batches shaped like a dataloader's output (``PackSegInputs`` + collate)."""
from typing import Dict, Sequence

import torch
from mmengine.structures import PixelData

from fcn_mm.structures import SegDataSample

__all__ = ['synthetic_batch']


def synthetic_batch(batch: int, shape: Sequence[int], num_classes: int = 21,
                    with_labels: bool = False, in_channels: int = 3, seed: int = 0,
                    ignore_index: int = 255) -> Dict[str, list]:
    """A batch of random uint8 images (and labels) with the metainfo of real ones.

    Args:
        batch (int): number of images.
        shape (Sequence[int]): image (H, W).
        num_classes (int): labels are drawn from ``[0, num_classes)``.
        with_labels (bool): add ``gt_sem_seg`` (int64, (1, H, W)); the top eighth of
            each label map is ``ignore_index``.
        in_channels (int): image channels. Defaults to 3.
        seed (int): random seed. Defaults to 0.
        ignore_index (int): the ignored label. Defaults to 255.

    Returns:
        dict: ``inputs`` (list of (C, H, W) uint8 tensors) and ``data_samples``
        (list of :class:`SegDataSample`), as a collated dataloader batch.
    """
    if batch < 1:
        raise ValueError(f'batch must be >= 1, got {batch}')
    height, width = int(shape[0]), int(shape[1])
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(batch):
        inputs.append(torch.randint(0, 256, (in_channels, height, width), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(
            img_path=f'synthetic_{i}.jpg', ori_shape=(height, width),
            img_shape=(height, width), pad_shape=(height, width),
            padding_size=[0, 0, 0, 0], scale_factor=(1.0, 1.0), flip=False,
            flip_direction=None, reduce_zero_label=False))
        if with_labels:
            label = torch.randint(0, num_classes, (1, height, width), generator=gen)
            label[:, :max(1, height // 8)] = ignore_index
            sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
