"""SIGTERM / SIGUSR1 to a real ``tools/train.py``: checkpoint, exit code 75, exact resume.

Each training process holds before a chosen iteration (``PauseAtIterHook``, released by a
file), so a signal arrives during a known iteration; it is sent to the whole process
group, DataLoader workers included, as slurm does. One run is stopped twice (SIGTERM; then,
resumed, SIGUSR1 with a SIGTERM in the middle of the save) and resumed again to the end: its
final weights must equal the uninterrupted run's, and it must end although its persistent
validation workers ignored the signals during training.
"""
import os
import os.path as osp
import re
import signal

import pytest
import torch

from fcn_mm.apis.preemption import train_exit_code
from fcn_mm.apis.training import build_runner, setup_train_config
from fcn_mm.utils.checkpoint_files import is_complete_checkpoint
from fcn_mm.utils.safe_loading import load_checkpoint_file
from fcn_mm.utils.stop_signals import PREEMPTED_EXIT_CODE
from preemption_helpers import PAUSE_MARKER, TrainProcess
from tools_cli_utils import REPO, free_port, run_cli

MAX_ITERS = 20
FIRST_STOP, SECOND_STOP = 7, 14
HERE = osp.dirname(osp.abspath(__file__))
DERIVED = """
_base_ = '{base}'
custom_imports = dict(imports=['preemption_helpers'], allow_failed_imports=False)
custom_hooks = {hooks}
train_cfg = dict(max_iters={max_iters})
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end={max_iters},
                        by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=1000))
train_dataloader = dict(num_workers={workers}, persistent_workers={persistent})
val_dataloader = dict(num_workers={workers}, persistent_workers={persistent})
"""


def _pythonpath() -> str:
    return os.pathsep.join([REPO, HERE] + [p for p in os.environ.get('PYTHONPATH', '')
                                           .split(os.pathsep) if p])


def _env(**extra) -> dict:
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1',
                PYTHONPATH=_pythonpath(), **extra)


def _config(tmp_path, tiny_config, name, pause_at=(), workers=2) -> str:
    hooks = '[]' if not pause_at else (
        f"[dict(type='PauseAtIterHook', pause_at={list(pause_at)}, "
        f"release_dir='{tmp_path}')]")
    path = tmp_path / f'{name}.py'
    path.write_text(DERIVED.format(base=tiny_config, hooks=hooks, max_iters=MAX_ITERS,
                                   workers=workers, persistent=workers > 0))
    return str(path)


def _iters(output: str) -> list:
    """The training iterations logged (interval 1)."""
    return [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/', output)]


def _weights(path: str) -> dict:
    return load_checkpoint_file(path)['state_dict']


def _max_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture(scope='module')
def straight(tiny_config, tmp_path_factory) -> dict:
    """The uninterrupted run's final weights (trained in this process, one thread, as the
    subprocesses: the same code as tools/train.py from ``setup_train_config`` on)."""
    tmp = tmp_path_factory.mktemp('straight')
    cfg = setup_train_config(_config(tmp, tiny_config, 'straight'),
                             work_dir=str(tmp / 'work'))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = build_runner(cfg)
        runner.train()
    finally:
        torch.set_num_threads(threads)
    assert train_exit_code(runner) == 0 and runner.iter == MAX_ITERS
    return _weights(osp.join(str(tmp / 'work'), f'iter_{MAX_ITERS}.pth'))


def _assert_stopped_at(step: int, work_dir: str, output: str) -> dict:
    """The run stopped after iteration ``step`` with a complete checkpoint of it."""
    ckpt_path = osp.join(work_dir, f'iter_{step}.pth')
    assert is_complete_checkpoint(ckpt_path), output[-4000:]
    assert _iters(output)[-1] == step  # stopped within one iteration
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == ckpt_path
    assert not [n for n in os.listdir(work_dir) if '.tmp-' in n]
    ckpt = load_checkpoint_file(ckpt_path)
    assert {'state_dict', 'optimizer', 'param_schedulers', 'message_hub', 'rng_state',
            'meta'} <= set(ckpt)
    assert ckpt['meta']['iter'] == step
    assert f'stopped after iteration {step}/{MAX_ITERS} and saved the checkpoint ' \
           f'{ckpt_path}' in output
    assert f'Exiting with code {PREEMPTED_EXIT_CODE}' in output
    return ckpt


def test_stopped_twice_then_resumed_run_matches_the_straight_run(tiny_config, straight,
                                                                 tmp_path):
    config = _config(tmp_path, tiny_config, 'stop', pause_at=(FIRST_STOP, SECOND_STOP))
    work_dir = str(tmp_path / 'work')
    train = ['tools/train.py', config, '--work-dir', work_dir]

    # 1. SIGTERM during iteration 7: it finishes, saves iter_7.pth, exits with 75
    run = TrainProcess(train, REPO, _env())
    run.wait_for(f'{PAUSE_MARKER} {FIRST_STOP}')
    run.signal_group(signal.SIGTERM)  # main process and DataLoader workers
    (tmp_path / f'release_{FIRST_STOP}').touch()
    assert run.finish() == PREEMPTED_EXIT_CODE, run.output[-6000:]
    assert 'Stop requested by SIGTERM' in run.output
    first = _assert_stopped_at(FIRST_STOP, work_dir, run.output)
    assert _max_diff(first['state_dict'], straight) > 1e-4  # far from the end weights

    # 2. resumed; SIGUSR1 during iteration 14, then SIGTERM while half the checkpoint is
    #    written: ignored, the save completes
    run = TrainProcess(train + ['--resume'], REPO, _env(
        FCN_MM_FAULT_INJECT='ckpt_partial:1:hold',
        FCN_MM_FAULT_RELEASE=str(tmp_path / 'save_release')))
    run.wait_for(f'{PAUSE_MARKER} {SECOND_STOP}')
    assert _iters(run.output)[0] == FIRST_STOP + 1  # resumed
    run.signal_group(signal.SIGUSR1)  # slurm's early warning
    (tmp_path / f'release_{SECOND_STOP}').touch()
    run.wait_for('FCN_MM_FAULT_HOLD ckpt_partial')
    run.signal_group(signal.SIGTERM)  # e.g. the time limit, during the save
    run.wait_for('SIGTERM received while stopping')
    assert [n for n in os.listdir(work_dir) if '.tmp-' in n]
    assert not osp.exists(osp.join(work_dir, f'iter_{SECOND_STOP}.pth'))
    assert run.proc.poll() is None  # still saving
    (tmp_path / 'save_release').touch()
    assert run.finish() == PREEMPTED_EXIT_CODE, run.output[-6000:]
    assert 'Stop requested by SIGUSR1' in run.output
    assert '1 later signal(s) ignored' in run.output
    _assert_stopped_at(SECOND_STOP, work_dir, run.output)

    # 3. resumed to the end: the same weights as without any stop
    proc = run_cli(train + ['--resume'], extra_env=dict(PYTHONPATH=_pythonpath()))
    output = proc.stdout + proc.stderr
    assert _iters(output) == list(range(SECOND_STOP + 1, MAX_ITERS + 1))
    resumed = _weights(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))
    assert _max_diff(resumed, straight) <= 1e-6


def test_two_processes_stop_at_the_same_iteration_when_one_is_signalled(tiny_config,
                                                                         tmp_path):
    config = _config(tmp_path, tiny_config, 'dist', pause_at=(FIRST_STOP,), workers=0)
    work_dir = str(tmp_path / 'work')
    port = str(free_port())
    runs = []
    for rank in range(2):
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
        runs.append(TrainProcess(['tools/train.py', config, '--work-dir', work_dir,
                                  '--launcher', 'pytorch'], REPO, env))
    try:
        for run in runs:
            run.wait_for(f'{PAUSE_MARKER} {FIRST_STOP}')
        runs[1].signal_group(signal.SIGTERM)  # rank 1 only
        (tmp_path / f'release_{FIRST_STOP}').touch()
        codes = [run.finish() for run in runs]
    finally:
        for run in runs:
            run.kill()
    assert codes == [PREEMPTED_EXIT_CODE] * 2, runs[0].output[-4000:] + runs[1].output[-4000:]
    assert 'Stop requested by a stop signal to another process' in runs[0].output
    _assert_stopped_at(FIRST_STOP, work_dir, runs[0].output)
