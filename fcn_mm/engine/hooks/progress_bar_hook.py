"""ProgressBarHook: mmengine's ``ProgressBar`` over the test loop (``tools/test.py``)."""
from typing import Optional, Sequence

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from fcn_mm.registry import HOOKS

__all__ = ['ProgressBarHook']


@HOOKS.register_module(name=['ProgressBarHook', 'TestProgressBarHook'])
class ProgressBarHook(Hook):
    """Show test progress (batches) with mmengine's ``ProgressBar`` on rank 0.

    Registered as ``ProgressBarHook`` and, for configs written before the rename, as
    ``TestProgressBarHook``.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._bar: Optional[ProgressBar] = None

    def before_test_epoch(self, runner) -> None:
        """Start the bar with one step per test batch."""
        rank, _ = get_dist_info()
        if rank == 0:
            self._bar = ProgressBar(len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        """Advance the bar; end its line after the last batch."""
        if self._bar is None:
            return
        self._bar.update()
        if self._bar.completed >= self._bar.task_num:  # end the line before the metrics
            self._finish()

    def after_test_epoch(self, runner, metrics=None) -> None:
        """End the bar's line if the loop stopped early."""
        if self._bar is not None:
            self._finish()

    def _finish(self) -> None:
        self._bar.file.write('\n')
        self._bar.file.flush()
        self._bar = None
