"""PackSegInputs: numpy results -> model inputs (tensor) + SegDataSample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData

from fcn_mm.registry import TRANSFORMS
from fcn_mm.structures import SegDataSample

__all__ = ['PackSegInputs']


@TRANSFORMS.register_module()
class PackSegInputs(BaseTransform):
    """Pack the image as a (C, H, W) tensor and the label into a SegDataSample.

    Reads: ``img`` (H, W, C) or (H, W), ``gt_seg_map`` (H, W) (optional), and the
    ``meta_keys`` present. Writes (returns a new dict): ``inputs`` (C, H, W) tensor
    of the image's dtype, ``data_samples`` a :class:`SegDataSample` whose
    ``gt_sem_seg.data`` is (1, H, W) int64 and whose metainfo holds the meta keys.

    Args:
        meta_keys (Sequence[str]): keys copied into the metainfo. Defaults to
            ``('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
            'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label')``.
    """

    def __init__(self, meta_keys: Sequence[str] = (
            'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
            'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack ``results``.

        Args:
            results (dict): see the class docstring.

        Returns:
            dict: ``{'inputs': Tensor (C, H, W), 'data_samples': SegDataSample}``.
        """
        packed = {}
        if 'img' in results:
            img = results['img']
            if img.ndim < 3:
                img = img[..., None]
            packed['inputs'] = torch.from_numpy(
                np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = SegDataSample()
        label = results.get('gt_seg_map')
        if label is not None:
            if label.ndim != 2:
                raise ValueError(f'PackSegInputs expects gt_seg_map of shape (H, W), '
                                 f'got {label.shape} ({results.get("seg_map_path")})')
            data = torch.from_numpy(label[None].astype(np.int64))
            sample.gt_sem_seg = PixelData(data=data)
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        packed['data_samples'] = sample
        return packed

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
