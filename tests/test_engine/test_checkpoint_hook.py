"""CheckpointHook removes the previous best checkpoint only after saving the new one."""
import os
import os.path as osp

from fcn_mm.utils.checkpoint_files import atomic_write


class _StubRunner:
    """Just what CheckpointHook's best-checkpoint logic touches."""

    def __init__(self, work_dir):
        from mmengine.logging import MessageHub, MMLogger
        self.work_dir = work_dir
        self.epoch, self.iter = 0, 0
        self.message_hub = MessageHub.get_instance(f'stub-{id(self)}')
        self.logger = MMLogger.get_instance(f'stub-{id(self)}')
        self.saves = []

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        present = sorted(n for n in os.listdir(out_dir) if n.endswith('.pth'))
        self.saves.append((filename, present))
        atomic_write(b'checkpoint', osp.join(out_dir, filename))


def test_previous_best_checkpoint_is_removed_after_the_new_one_is_saved(tmp_path):
    from fcn_mm.engine.hooks.checkpoint_hook import CheckpointHook
    runner = _StubRunner(str(tmp_path))
    hook = CheckpointHook(interval=100, by_epoch=False, save_best='mIoU', rule='greater')
    hook.before_train(runner)
    for step, score in ((1, 50.0), (2, 40.0), (3, 60.0)):
        runner.iter = step
        hook._save_best_checkpoint(runner, {'mIoU': score})
    assert runner.saves == [('best_mIoU_iter_1.pth', []),
                            ('best_mIoU_iter_3.pth', ['best_mIoU_iter_1.pth'])]
    assert sorted(os.listdir(tmp_path)) == ['best_mIoU_iter_3.pth']
