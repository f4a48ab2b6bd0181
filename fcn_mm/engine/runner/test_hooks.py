"""Hooks that ``tools/test.py`` adds: prediction PNGs (``--out``) and a progress bar.

- ``SegPredictionSaveHook`` writes one 8-bit palette ('P' mode) PNG per test image,
  ``<out_dir>/<image stem>.png``, whose pixel values are the predicted class indices
  and whose palette is the dataset's (the VOC convention for label files).
- ``TestProgressBarHook`` shows mmengine's ``ProgressBar`` on rank 0 while testing.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from PIL import Image

from fcn_mm.registry import HOOKS
from fcn_mm.utils.palette import flat_palette as label_palette

__all__ = ['SegPredictionSaveHook', 'TestProgressBarHook', 'label_palette']


@HOOKS.register_module()
class SegPredictionSaveHook(Hook):
    """Save each test prediction as ``<out_dir>/<stem>.png`` (8-bit, mode 'P').

    Args:
        out_dir (str): output folder (created if missing).
        palette (Sequence[Sequence[int]], optional): RGB colour per class. Defaults to
            None: the test dataset's ``metainfo['palette']``.
    """

    priority = 'LOW'

    def __init__(self, out_dir: str,
                 palette: Optional[Sequence[Sequence[int]]] = None) -> None:
        if not isinstance(out_dir, str) or not out_dir:
            raise ValueError(f'SegPredictionSaveHook.out_dir must be a folder path, '
                             f'got {out_dir!r}')
        self.out_dir = out_dir
        self.palette = palette
        self._flat_palette: Optional[list] = None

    def before_test(self, runner) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        palette = self.palette
        if palette is None:
            dataset = getattr(runner.test_dataloader, 'dataset', None)
            palette = (getattr(dataset, 'metainfo', None) or {}).get('palette')
        self._flat_palette = label_palette(palette)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or ():
            pred = sample.pred_sem_seg.data
            pred = pred.cpu().numpy() if hasattr(pred, 'cpu') else np.asarray(pred)
            pred = pred.reshape(pred.shape[-2:])
            if pred.min(initial=0) < 0 or pred.max(initial=0) > 255:
                raise ValueError(f'prediction for {sample.img_path} has class indices '
                                 'outside 0..255; it cannot be written as an 8-bit PNG')
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            height, width = pred.shape
            image = Image.frombytes('P', (width, height),
                                    np.ascontiguousarray(pred, dtype=np.uint8).tobytes())
            image.putpalette(self._flat_palette or label_palette())
            image.save(osp.join(self.out_dir, f'{stem}.png'))


@HOOKS.register_module()
class TestProgressBarHook(Hook):
    """Show test progress (batches) with mmengine's ``ProgressBar`` on rank 0."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar: Optional[ProgressBar] = None

    def before_test_epoch(self, runner) -> None:
        rank, _ = get_dist_info()
        if rank == 0:
            self._bar = ProgressBar(len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if self._bar is None:
            return
        self._bar.update()
        if self._bar.completed >= self._bar.task_num:  # end the line before the metrics
            self._finish()

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self._bar is not None:
            self._finish()

    def _finish(self) -> None:
        self._bar.file.write('\n')
        self._bar.file.flush()
        self._bar = None
