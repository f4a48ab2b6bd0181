"""Crafted checkpoints through every way fcn_mm loads one, each file in a child process.

The corpus (``crafted_pickles.CORPUS``) is written by the test, opcode by opcode. Every
file must be refused with its reason, by fcn_mm's loader, mmengine's ``load_checkpoint``,
``init_model``, ``tools/train.py --resume`` and by a plain ``torch.load(weights_only=True)``
after fcn_mm was imported and used (except ``crafted_pickles.TORCH_ADMITS``: allocations
torch's own allow-list admits, which only fcn_mm's pre-load scan refuses); each child must
exit normally (no signal), stay
under 1 GiB peak memory and run no payload (the marker file stays absent). With numpy's
own rebuilders allowed (what fcn_mm once registered) the issue's file kills its child.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch

import crafted_pickles
from fcn_mm.utils.safe_loading import SAFE_GLOBALS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
ISSUE_CASE = crafted_pickles.ISSUE_CASE
MAX_RSS_MIB = 1024


def _env() -> dict:
    path = os.pathsep.join(p for p in (REPO, os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp('corpus')
    marker = str(folder.parent / f'{folder.name}_payload_ran')
    crafted_pickles.write_corpus(str(folder), marker)
    return str(folder), marker


@pytest.fixture(scope='module')
def results(corpus, tmp_path_factory):
    """'allow_list' -> its record; mode -> case -> record (one child process per load)."""
    folder, _ = corpus
    out = str(tmp_path_factory.mktemp('results') / 'loads.jsonl')
    proc = subprocess.run([sys.executable, crafted_pickles.__file__, folder, out, DEMO_CONFIG],
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out) as f:
        records = [json.loads(line) for line in f]
    found = dict(allow_list=records[0]['allow_list'])
    for record in records[1:]:
        found.setdefault(record['mode'], {})[record['case']] = record
    for mode in crafted_pickles.MODES:
        expected = crafted_pickles.MODE_CASES.get(mode, crafted_pickles.CORPUS)
        assert set(found[mode]) == set(expected), mode
    return found


def _assert_survived(record: dict) -> None:
    assert record['signal'] is None and record['exit_code'] == 0, record
    assert record['maxrss_mib'] < MAX_RSS_MIB, record


@pytest.mark.parametrize('mode', ['fcn_mm', 'mmengine', 'init_model'])
def test_fcn_mm_paths_refuse_every_crafted_file_with_its_reason(results, corpus, mode):
    folder, marker = corpus
    for case, record in results[mode].items():
        reason = crafted_pickles.CORPUS[case][1]
        _assert_survived(record)
        assert record['refused'] and record['error'] == 'CheckpointLoadError', record
        assert osp.join(folder, f'{case}.pth') in record['message'], record
        assert reason in record['message'], (case, record['message'])
    assert not osp.exists(marker), 'a payload ran'


@pytest.mark.parametrize('mode', ['fcn_mm', 'mmengine'])
@pytest.mark.parametrize('case', crafted_pickles.MEMORY_CASES)
def test_files_that_would_allocate_more_than_they_carry_cost_little(results, mode, case):
    """The issue's probes: 25 arrays over one memoised 4 MiB bytes object (109 MiB more
    peak memory before the scan) and bytearray(2e8) in a few hundred bytes (200 MB) are
    refused before torch.load; the child's peak grows by less than twice the file."""
    record = results[mode][case]
    _assert_survived(record)
    assert record['refused'], record
    grown = (record['peak_kib'] - record['baseline_kib']) * 1024
    assert grown < 2 * record['file_bytes'], record
    if case == 'memo_shared_array_data':
        assert record['file_bytes'] > crafted_pickles.MEMO_DATA_BYTES, record


def test_plain_torch_load_after_fcn_mm_refuses_every_crafted_file(results, corpus):
    _, marker = corpus
    for case, record in results['torch'].items():
        _assert_survived(record)
        assert record['refused'] and record['error'] == 'UnpicklingError', record
    assert not osp.exists(marker), 'a payload ran'


def test_corpus_bites_when_numpy_rebuilds_its_own_pickles(results):
    """Guards the tests above against passing vacuously: with numpy's own dtype,
    ndarray and _reconstruct allowed, the issue's file kills the process reading it,
    and the object-field dtype alone loads."""
    crashed = results['numpy_allow_list'][ISSUE_CASE]
    assert crashed['signal'] in (signal.SIGSEGV, signal.SIGBUS), crashed
    alone = results['numpy_allow_list']['object_field_dtype_alone']
    assert not alone['refused'] and "('a', 'O')" in alone['message'], alone


def test_train_resume_refuses_the_issue_file(corpus, tmp_path):
    folder, marker = corpus
    data_root = str(tmp_path / 'demo')
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=2',
               'demo_data.num_val=1', 'demo_data.image_size=32']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={data_root}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    crafted = osp.join(folder, f'{ISSUE_CASE}.pth')
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'w'),
         '--resume', crafted, '--cfg-options'] + options,
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-3000:])  # no signal
    assert f"Refused to load checkpoint {crafted!r}" in proc.stderr, proc.stderr[-3000:]
    assert "numpy dtype 'V8' is refused (a void/structured dtype" in proc.stderr
    assert not osp.exists(marker)


def test_allow_list_is_not_process_wide(results):
    """Importing fcn_mm, registering its modules, building a model and loading a
    checkpoint with fcn_mm's loader leave torch's weights_only allow-list as it was
    (torch's own modules may add to it when fcn_mm imports them)."""
    record = results['allow_list']
    assert record['benign'] == [0, 1, 2]
    assert record['unchanged_by_load'], record
    assert all(m.startswith('torch.') for m in record['added_modules']), record
    ours = {id(g[0] if isinstance(g, tuple) else g) for g in SAFE_GLOBALS}
    assert not ours & {id(g) for g in torch.serialization.get_safe_globals()}
