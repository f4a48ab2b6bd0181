"""CheckpointHook (mmengine's name) with crash-safe saving and exact resume.

Differences from mmengine's hook, all without config changes:

- Checkpoints and ``last_checkpoint`` are written atomically (the ``local_atomic``
  file backend, the default for local folders); outdated checkpoints (``max_keep_ckpts``,
  previous best) are removed only after the new checkpoint and pointer are in place.
- ``resume=True`` without a path resumes from the newest *complete* checkpoint: the
  pointer's target or a newer complete ``iter_*.pth``/``epoch_*.pth``; a pointer to a
  missing or truncated file is ignored. Temporary files of dead writers are removed.
- The work dir is checked at start (writable, free space) with a message naming it.
- Every checkpoint stores the Python, NumPy and torch (CPU, CUDA) random states
  (``checkpoint['rng_state']``, plain values loadable with ``weights_only=True``);
  a resumed run restores them just before training continues.
"""
import contextlib
import os
import os.path as osp
from typing import Any, ContextManager, Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as MMEngineCheckpointHook
from mmengine.logging import MMLogger

from fcn_mm.registry import HOOKS
from fcn_mm.utils.checkpoint_files import (atomic_write, fault_point,
                                           find_latest_complete_checkpoint,
                                           remove_stale_temp_files, step_pattern)
from fcn_mm.utils.log_filters import dropped_log_messages
from fcn_mm.utils.rng import capture_rng_state, restore_rng_state
from fcn_mm.utils.work_dir import check_work_dir
from ..samplers import offset_sampler

__all__ = ['CheckpointHook']


def _remove(backend: Any, path: str) -> None:
    """Remove the file or folder ``path`` through the file ``backend`` (if it exists)."""
    if backend.isfile(path):
        backend.remove(path)
    elif backend.isdir(path):
        backend.rmtree(path)


class _DeferredRemoval:
    """A file backend proxy that queues ``remove``/``rmtree`` until :meth:`flush`."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._queued: List[str] = []

    def remove(self, path: str) -> None:
        self._queued.append(path)

    def rmtree(self, path: str) -> None:
        self._queued.append(path)

    def flush(self, keep: set) -> None:
        for path in self._queued:
            if path not in keep:
                _remove(self._backend, path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@HOOKS.register_module()
class CheckpointHook(MMEngineCheckpointHook):
    """Save checkpoints atomically and resume exactly.

    Args:
        *args: mmengine ``CheckpointHook`` arguments (``interval``, ``by_epoch``, ...).
        backend_args (dict, optional): file backend arguments. Defaults to
            ``dict(backend='local_atomic')`` when ``out_dir`` is a local folder.
        min_free_mb (float): free space (MiB) the work dir must have at start.
            Defaults to 64; 0 disables the check.
        **kwargs: other mmengine ``CheckpointHook`` arguments.
    """

    def __init__(self, *args, backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None, min_free_mb: float = 64,
                 **kwargs) -> None:
        out_dir = kwargs.get('out_dir', args[4] if len(args) > 4 else None)
        local = '://' not in str(out_dir or '')
        if backend_args is None and file_client_args is None and local:
            backend_args = dict(backend='local_atomic')
        super().__init__(*args, backend_args=backend_args,
                         file_client_args=file_client_args, **kwargs)
        self.min_free_mb = min_free_mb
        self._local = local
        self._pending_rng: Optional[Dict] = None

    def _checkpoint_dir(self, runner) -> str:
        if self.out_dir is None or self.out_dir == runner.work_dir:
            return runner.work_dir
        return osp.join(self.out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))

    def before_run(self, runner) -> None:
        """Check the work dir, clean temp files, pick the checkpoint to resume."""
        super().before_run(runner)
        if not self._local:
            return
        check_work_dir(runner.work_dir, min_free_mb=self.min_free_mb)
        folders = [self._checkpoint_dir(runner), runner.work_dir]
        if is_main_process():
            for folder in dict.fromkeys(folders):
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(f'Removed the unfinished temporary file {path}')
        if getattr(runner, '_resume', False) and getattr(runner, '_load_from', 1) is None:
            pointer = osp.join(runner.work_dir, 'last_checkpoint')
            latest = find_latest_complete_checkpoint(
                folders, pointer=pointer, filename_tmpls=[self.filename_tmpl])
            if latest is not None:
                runner.logger.info(f'Resuming from the newest complete checkpoint '
                                   f'{latest}')
                runner._load_from = latest
            else:
                runner.logger.warning(f'resume=True but no complete checkpoint was '
                                      f'found in {folders}; training starts from scratch')
                runner._resume = False

    def before_train(self, runner) -> None:
        """Set up saving; after a resume, restore the saved random states last."""
        with self._unused_file_client_quiet(runner):
            super().before_train(runner)
        self._remove_orphans(runner)
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None
            runner.logger.info('Restored the random number generator states of the '
                               'resumed checkpoint')

    def _unused_file_client_quiet(self, runner) -> ContextManager:
        """Drop the deprecation warnings of the FileClient mmengine builds but never uses.

        mmengine's ``CheckpointHook.before_train`` and ``save_checkpoint`` always build a
        ``FileClient`` (kept for backward compatibility), unused when
        ``file_client_args`` is None, and each build logs two deprecation warnings no
        config can avoid. Only then are exactly those two dropped; with
        ``file_client_args`` set, the FileClient is used and the warning is real.
        """
        if self.file_client_args is not None:
            return contextlib.nullcontext()
        return dropped_log_messages([runner.logger, MMLogger.get_current_instance()],
                                    '"FileClient" will be deprecated',
                                    '"HardDiskBackend" is the alias')

    def _remove_orphans(self, runner) -> None:
        """Remove checkpoints older than the kept ones (left by a kill before removal).

        Only after a resume with ``max_keep_ckpts > 0``; only names of this hook's
        template with a step below the oldest kept step.
        """
        keep = list(getattr(self, 'keep_ckpt_ids', ()))
        if (self.max_keep_ckpts <= 0 or not keep or not self._local
                or not is_main_process() or not osp.isdir(self.out_dir)):
            return
        pattern = step_pattern(self.filename_tmpl)
        for name in sorted(os.listdir(self.out_dir)):
            match = pattern.match(name)
            if match and int(match.group(1)) < min(keep):
                os.remove(osp.join(self.out_dir, name))
                runner.logger.info(f'Removed {name}: older than the {len(keep)} kept '
                                   f'checkpoints (max_keep_ckpts={self.max_keep_ckpts})')

    @staticmethod
    def _train_sampler(runner) -> Optional[Any]:
        """The built train loop's sampler if it can restart at an offset, else None."""
        loop = getattr(runner, '_train_loop', None)
        loader = getattr(loop, 'dataloader', None)
        if loader is None or isinstance(loop, dict):
            return None
        return offset_sampler(loader)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the random states (and the train sampler's seed) to the checkpoint."""
        checkpoint['rng_state'] = capture_rng_state()
        sampler = self._train_sampler(runner)
        if sampler is not None:
            checkpoint['sampler'] = {'seed': int(sampler.seed)}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume: keep the random states for :meth:`before_train`, reseed the sampler."""
        if not getattr(runner, '_resume', False):
            return
        if 'rng_state' in checkpoint:
            self._pending_rng = checkpoint['rng_state']
        sampler = self._train_sampler(runner)
        saved = checkpoint.get('sampler', {}).get('seed')
        if sampler is not None and saved is not None and saved != sampler.seed:
            runner.logger.info(f'Train sampler seed {sampler.seed} -> {saved} (the '
                               'resumed checkpoint\'s)')
            sampler.seed = int(saved)

    def _save_checkpoint(self, runner) -> None:
        """mmengine's interval / last save, without the unused FileClient's warnings."""
        with self._unused_file_client_quiet(runner):
            super()._save_checkpoint(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``step``, then update ``last_checkpoint``, then drop old checkpoints."""
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta,
            by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        fault_point('before_pointer')
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if self._local:
            atomic_write(self.last_ckpt, pointer, kind='pointer')
        else:
            with open(pointer, 'w', encoding='utf-8') as f:
                f.write(self.last_ckpt)
        fault_point('before_remove')
        for old_step in outdated:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old_step))
            if path != self.last_ckpt:
                _remove(self.file_backend, path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's best-checkpoint logic, removing the previous best last."""
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            with self._unused_file_client_quiet(runner):
                super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        deferred.flush(keep)
