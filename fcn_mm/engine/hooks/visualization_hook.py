"""SegVisualizationHook: draw validation and test predictions."""
import os.path as osp
import warnings
from typing import Optional, Sequence

import mmcv
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.runner import Runner

from fcn_mm.registry import HOOKS
from fcn_mm.structures import SegDataSample
from fcn_mm.visualization import SegLocalVisualizer

__all__ = ['SegVisualizationHook']


@HOOKS.register_module()
class SegVisualizationHook(Hook):
    """Draw predictions of the validation and test loops with the Runner's visualizer.

    - Validation: the first sample of every ``interval``-th batch (counted from the
      current training iteration) is drawn as ``val_<image file name>``.
    - Test: every sample is drawn as ``test_<image file name>`` with a running index
      as step. The visualizer's backends store the drawings (e.g. ``LocalVisBackend``
      under ``<save_dir>/vis_data/vis_image/``); when ``test_out_dir`` is set, test
      drawings are written there instead, as ``<image stem>.png`` (a relative path is
      taken under ``<work_dir>/<timestamp>/``).

    Nothing is drawn while ``draw`` is False (the default; ``tools/test.py --show-dir``
    turns it on).

    Args:
        draw (bool): whether to draw at all. Defaults to False.
        interval (int): draw one validation sample every ``interval`` batches.
            Defaults to 50.
        show (bool): display the drawings in a window (and drop the backends).
            Defaults to False.
        wait_time (float): seconds a shown drawing stays. Defaults to 0.
        test_out_dir (str, optional): folder for test drawings. Defaults to None.
        backend_args (dict, optional): file backend arguments to read the images.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'SegVisualizationHook interval must be an int >= 1, '
                             f'got {interval!r}')
        self._visualizer: SegLocalVisualizer = SegLocalVisualizer.get_current_instance()
        self.interval = interval
        self.show = show
        if self.show:
            # a displayed drawing is not also stored by the backends
            self._visualizer._vis_backends = {}
            warnings.warn('SegVisualizationHook show=True: the drawings are only shown, '
                          'not stored by the visualizer backends')
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.backend_args = None if backend_args is None else backend_args.copy()
        self.draw = draw
        self._test_index = 0

    def _read_rgb(self, img_path: str):
        return mmcv.imfrombytes(get(img_path, backend_args=self.backend_args),
                                channel_order='rgb')

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[SegDataSample]) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        if not self.draw or not outputs:
            return
        step = runner.iter + batch_idx
        if step % self.interval != 0:
            return
        sample = outputs[0]
        self._visualizer.add_datasample(
            f'val_{osp.basename(sample.img_path)}', self._read_rgb(sample.img_path),
            data_sample=sample, show=self.show, wait_time=self.wait_time, step=step)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[SegDataSample]) -> None:
        """Draw every test sample."""
        if not self.draw:
            return
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
        for sample in outputs:
            self._test_index += 1
            name = osp.basename(sample.img_path)
            out_file = None
            if out_dir is not None:
                out_file = osp.join(out_dir, osp.splitext(name)[0] + '.png')
            self._visualizer.add_datasample(
                f'test_{name}', self._read_rgb(sample.img_path), data_sample=sample,
                show=self.show, wait_time=self.wait_time, out_file=out_file,
                step=self._test_index)
