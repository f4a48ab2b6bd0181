"""SegPredictionSaveHook: one 8-bit palette PNG per test prediction (``tools/test.py --out``)."""
import os
from typing import Optional, Sequence

from mmengine.hooks import Hook

from fcn_mm.registry import HOOKS
from fcn_mm.utils.label_png import save_prediction_png

__all__ = ['SegPredictionSaveHook']


@HOOKS.register_module()
class SegPredictionSaveHook(Hook):
    """Save each test prediction as ``<out_dir>/<image stem>.png`` (8-bit, mode 'P').

    The pixel values are the predicted class indices (plus one for samples with
    ``reduce_zero_label``, as ``IoUMetric(format_only=True)`` writes them) and the palette
    is the dataset's: the VOC convention for label files.

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
        self._palette = palette

    def before_test(self, runner) -> None:
        """Create the output folder; take the palette from the test dataset if unset."""
        os.makedirs(self.out_dir, exist_ok=True)
        if self.palette is None:
            dataset = getattr(runner.test_dataloader, 'dataset', None)
            self._palette = (getattr(dataset, 'metainfo', None) or {}).get('palette')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        """Write the PNG of every predicted sample of the batch."""
        for sample in outputs or ():
            save_prediction_png(sample.pred_sem_seg.data, self.out_dir, sample.img_path,
                                self._palette,
                                reduce_zero_label=sample.get('reduce_zero_label', False))
