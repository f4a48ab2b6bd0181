"""Bad data met inside DataLoader workers ends the run with the dataset's own message."""
import os.path as osp

import numpy as np
import pytest

import _reliability_toy as toy
from fcn_mm.engine.loops import add_note, clean_worker_errors

VOC_IMG = 'JPEGImages/2007_{:06d}.jpg'
VOC_LABEL = 'SegmentationClass/2007_{:06d}.png'


@pytest.fixture
def data_root(tmp_path):
    return toy.make_voc(str(tmp_path / 'voc'), num=8)


def _train(data_root, work_dir, name):
    cfg = toy.make_cfg(work_dir, data_root, max_iters=8, interval=100, num_workers=2,
                       batch_size=1, shuffle=False, name=name)
    toy.build_runner(cfg).train()


def _assert_clean(exc, *needles):
    text = str(exc)
    assert 'Caught ' not in text and 'Traceback' not in text, text  # no torch wrapping
    for needle in needles:
        assert needle in text, (needle, text)
    assert isinstance(exc.__cause__, type(exc))  # the worker traceback stays attached


@pytest.mark.timeout(120)
def test_corrupt_jpeg_mid_epoch_with_workers(data_root, tmp_path):
    bad = osp.join(data_root, VOC_IMG.format(5))
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 this is not a JPEG ' * 8)
    with pytest.raises(ValueError, match=r'^Image file cannot be decoded') as info:
        _train(data_root, str(tmp_path / 'work'), 'corrupt_jpeg')
    _assert_clean(info.value, bad)
    rows = toy.read_losses(str(tmp_path / 'work' / 'losses.jsonl'))
    assert [r['iter'] for r in rows] == [1, 2, 3, 4, 5]  # samples 0..4 trained first


@pytest.mark.timeout(120)
def test_label_out_of_range_with_workers(data_root, tmp_path):
    bad = osp.join(data_root, VOC_LABEL.format(2))
    label = np.zeros((toy.IMG_SIZE, toy.IMG_SIZE), dtype=np.uint8)
    label[5, 5] = 40
    toy.write_label(bad, label)
    with pytest.raises(ValueError, match=r'^Label .* has values \[40\]') as info:
        _train(data_root, str(tmp_path / 'work'), 'bad_label')
    _assert_clean(info.value, bad)


@pytest.mark.timeout(120)
def test_missing_image_at_test_time_with_workers(data_root, tmp_path):
    import os
    missing = osp.join(data_root, VOC_IMG.format(1))
    cfg = toy.make_cfg(str(tmp_path / 'work'), data_root, name='test_missing')
    cfg.update(
        test_dataloader=dict(batch_size=1, num_workers=2, persistent_workers=False,
                             sampler=dict(type='DefaultSampler', shuffle=False),
                             dataset=toy.dataset_cfg(data_root, test_mode=True)),
        test_cfg=dict(type='TestLoop'), test_evaluator=dict(type='IoUMetric'))
    runner = toy.build_runner(cfg)
    runner.test_dataloader  # noqa: B018  (the dataset checks files when it is built)
    os.remove(missing)  # the file disappears after the file list was made
    with pytest.raises(FileNotFoundError, match='not found') as info:
        runner.test()
    _assert_clean(info.value, missing)


def test_clean_worker_errors_passes_other_errors_through():
    with pytest.raises(KeyError, match='plain'):
        with clean_worker_errors():
            raise KeyError('plain')


def _worker_error(exc_type):
    """What torch raises in the main process for a worker's ``exc_type('bad image x')``."""
    return exc_type('Caught ValueError in DataLoader worker process 3.\n'
                    'Original Traceback (most recent call last):\n'
                    '  File "dataset.py", line 1, in load\n'
                    "    raise ValueError('bad image x')\n"
                    'ValueError: bad image x\n')


def _formatted(exc) -> str:
    import traceback
    return ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def test_worker_error_keeps_message_and_names_the_worker():
    with pytest.raises(ValueError) as info:
        with clean_worker_errors():
            raise _worker_error(ValueError)
    assert info.value.args[0].startswith('bad image x')
    assert '(raised in DataLoader worker process 3' in _formatted(info.value)


class _ErrorWithoutNotes(ValueError):
    """An exception as on Python 3.9/3.10, which have no ``BaseException.add_note``."""

    add_note = None


def test_worker_error_on_pythons_without_add_note_puts_the_note_in_the_message():
    with pytest.raises(_ErrorWithoutNotes) as info:
        with clean_worker_errors():
            raise _worker_error(_ErrorWithoutNotes)
    assert str(info.value) == ('bad image x\n(raised in DataLoader worker process 3; its '
                               'traceback is shown above)')
    assert not getattr(info.value, '__notes__', None)
    assert isinstance(info.value.__cause__, _ErrorWithoutNotes)
    assert 'worker process 3' in _formatted(info.value)


def test_add_note_without_a_text_message_appends_it_to_the_arguments():
    exc = add_note(_ErrorWithoutNotes(42), 'the note')
    assert exc.args == (42, 'the note')
