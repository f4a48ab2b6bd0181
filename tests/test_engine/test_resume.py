"""Exact resume and kill-safety of checkpoints, on fcn_mm's real data path.

One uninterrupted 8-iteration run is the reference. A run stopped after iteration 4
and resumed must log the same losses at every iteration and end with the same
weights (dropout and random crop/flip/photometric augmentations are in play), with
``num_workers`` 0 and 2. A chain of training processes (started with the
``spawn`` method: a fork after an in-process ``torch.export`` elsewhere in the run
cannot run backward), each SIGKILLed at another point inside a checkpoint save and
resumed with ``resume=True`` (no path), must never
leave a truncated file under a final ``iter_*.pth`` name and must end where the
reference ends.
"""
import multiprocessing
import os
import os.path as osp
import signal

import pytest
import torch

import _reliability_toy as toy
from fcn_mm.utils.safe_loading import load_checkpoint_file

MAX_ITERS = 8
TOL = 1e-6


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return toy.make_voc(str(tmp_path_factory.mktemp('voc')))


@pytest.fixture(scope='module')
def reference(data_root, tmp_path_factory):
    """Losses per iteration and final weights of the uninterrupted run."""
    work_dir = str(tmp_path_factory.mktemp('reference'))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = toy.build_runner(toy.make_cfg(work_dir, data_root, max_iters=MAX_ITERS,
                                               interval=MAX_ITERS, name='ref'))
        runner.train()
    finally:
        torch.set_num_threads(threads)
    losses = {row['iter']: row for row in toy.read_losses(osp.join(work_dir, 'losses.jsonl'))}
    assert sorted(losses) == list(range(1, MAX_ITERS + 1))
    return losses, toy.final_weights(runner)


def _assert_same_run(rows, weights, reference):
    ref_losses, ref_weights = reference
    assert rows, 'no losses recorded'
    for row in rows:
        ref = ref_losses[row['iter']]
        for key in ('loss', 'decode.loss_ce', 'aux.loss_ce'):
            assert abs(row[key] - ref[key]) <= TOL, (row['iter'], key, row[key], ref[key])
    assert set(weights) == set(ref_weights)
    for key, value in weights.items():
        diff = (value.double() - ref_weights[key].double()).abs().max().item()
        assert diff <= TOL, (key, diff)


@pytest.mark.parametrize('num_workers,resume_seed', [(0, 42), (2, 42), (0, 7)])
def test_interrupted_and_resumed_run_matches_uninterrupted(num_workers, resume_seed,
                                                           data_root, reference, tmp_path):
    """resume_seed 7: a resumed run keeps the checkpoint's seeds (sampler included)."""
    work_dir = str(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = toy.build_runner(toy.make_cfg(work_dir, data_root, max_iters=MAX_ITERS,
                                              interval=4, num_workers=num_workers,
                                              name=f'stop{num_workers}', stop_at=4))
        first.train()
        assert first.iter == 4 and osp.isfile(osp.join(work_dir, 'iter_4.pth'))
        second = toy.build_runner(toy.make_cfg(work_dir, data_root, max_iters=MAX_ITERS,
                                               interval=4, num_workers=num_workers,
                                               name=f'resume{num_workers}', resume=True,
                                               seed=resume_seed))
        second.train()
    finally:
        torch.set_num_threads(threads)
    rows = toy.read_losses(osp.join(work_dir, 'losses.jsonl'))
    assert [r['iter'] for r in rows] == list(range(1, MAX_ITERS + 1))
    _assert_same_run(rows, toy.final_weights(second), reference)
    # the loss does move between iterations (the comparison is not vacuous)
    assert len({round(r['loss'], 6) for r in rows}) == MAX_ITERS


def _final_named_checkpoints(work_dir):
    return sorted(n for n in os.listdir(work_dir) if n.startswith('iter_')
                  and n.endswith('.pth'))


def _assert_all_final_files_load(work_dir):
    names = _final_named_checkpoints(work_dir)
    for name in names:
        ckpt = load_checkpoint_file(osp.join(work_dir, name))
        assert {'state_dict', 'optimizer', 'rng_state', 'meta'} <= set(ckpt), name
        assert ckpt['meta']['iter'] == int(name[5:-4])
    return names


def _train_in_child(kwargs, fault):
    """Child process body: train once (killed by the fault point, or to the end)."""
    torch.set_num_threads(1)
    os.environ.pop('FCN_MM_FAULT_INJECT', None)
    if fault:
        os.environ['FCN_MM_FAULT_INJECT'] = fault
    runner = toy.build_runner(toy.make_cfg(**kwargs))
    runner.train()
    torch.save(toy.final_weights(runner), osp.join(kwargs['work_dir'], 'final_weights.pt'))


def _run_toy(work_dir, data_root, fault=None, resume=False):
    """Train in a child process (spawned); return its exit code (-9 when SIGKILLed)."""
    kwargs = dict(work_dir=work_dir, data_root=data_root, max_iters=MAX_ITERS,
                  interval=1, max_keep_ckpts=2, resume=resume, name='kill')
    child = multiprocessing.get_context('spawn').Process(
        target=_train_in_child, args=(kwargs, fault))
    child.start()
    child.join(timeout=240)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail(f'training child with fault {fault} hung')
    return child.exitcode


# (fault point[:n-th time], newest complete checkpoint expected after the kill)
KILL_CHAIN = [
    ('ckpt_partial:2', 'iter_1.pth'),     # half of iter_2's temp file written
    ('ckpt_fsynced:2', 'iter_2.pth'),     # iter_3 complete in its temp file, not renamed
    ('ckpt_renamed:1', 'iter_3.pth'),     # iter_3 renamed, folder not fsynced, pointer at 2
    ('before_pointer:1', 'iter_4.pth'),   # iter_4 in place, pointer still at iter_2
    ('pointer_partial:1', 'iter_5.pth'),  # pointer's temp file half written
    ('pointer_fsynced:1', 'iter_6.pth'),  # pointer's temp file complete, not renamed
    ('before_remove:1', 'iter_7.pth'),    # pointer at iter_7, outdated files not removed
]


def test_sigkill_inside_save_never_leaves_a_truncated_checkpoint(data_root, reference,
                                                                 tmp_path):
    work_dir = str(tmp_path)
    from fcn_mm.utils.checkpoint_files import find_latest_complete_checkpoint
    for step, (fault, expected) in enumerate(KILL_CHAIN):
        exitcode = _run_toy(work_dir, data_root, fault=fault, resume=step > 0)
        assert exitcode == -signal.SIGKILL, (fault, exitcode)
        names = _assert_all_final_files_load(work_dir)
        assert expected in names, (fault, names)
        latest = find_latest_complete_checkpoint(
            [work_dir], pointer=osp.join(work_dir, 'last_checkpoint'))
        assert osp.basename(latest) == expected, (fault, latest)
        temps = [n for n in os.listdir(work_dir) if '.tmp-' in n]
        if 'partial' in fault or 'fsynced' in fault:  # killed inside a write
            assert temps, (fault, 'the killed write should have left its temp file')
    assert _run_toy(work_dir, data_root, resume=True) == 0
    assert not [n for n in os.listdir(work_dir) if '.tmp-' in n]
    assert _assert_all_final_files_load(work_dir) == ['iter_7.pth', 'iter_8.pth']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'iter_8.pth'
    rows = toy.read_losses(osp.join(work_dir, 'losses.jsonl'))
    assert {r['iter'] for r in rows} == set(range(1, MAX_ITERS + 1))
    weights = torch.load(osp.join(work_dir, 'final_weights.pt'), weights_only=True)
    _assert_same_run(rows, weights, reference)


def test_resume_ignores_dangling_pointer_and_truncated_files(data_root, tmp_path):
    with open(tmp_path / 'last_checkpoint', 'w') as f:
        f.write(str(tmp_path / 'iter_5.pth'))  # points at a file that is gone
    (tmp_path / 'iter_6.pth').write_bytes(b'PK\x03\x04 truncated')
    runner = toy.build_runner(toy.make_cfg(str(tmp_path), data_root, max_iters=2,
                                           interval=2, resume=True, name='dangling'))
    runner.train()  # mmengine alone would fail to open iter_5.pth
    assert runner.iter == 2
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().strip() == str(tmp_path / 'iter_2.pth')
