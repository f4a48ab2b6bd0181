"""tools/analysis_tools/confusion_matrix.py, fcn_mm.analysis.confusion_plot and the
confusion matrix of fcn_mm.evaluation."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from fcn_mm.analysis.confusion_plot import normalize_rows
from fcn_mm.evaluation import confusion_matrix, iou_from_confusion

NUM_CLASSES = 6  # the demo data set


@pytest.fixture(scope='module')
def from_checkpoint(demo_run, tools, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('confusion') / 'cm.png')
    matrix = tools.confusion_matrix.main([demo_run.config, demo_run.checkpoint, '--out', out,
                                          '--cfg-options'] + demo_run.options)
    return matrix, out


def _val_labels(data_root):
    with open(osp.join(data_root, 'ImageSets', 'Segmentation', 'val.txt')) as f:
        names = f.read().split()
    return np.concatenate([
        np.array(Image.open(osp.join(data_root, 'SegmentationClass', f'{n}.png'))).ravel()
        for n in names])


def test_from_checkpoint_counts_every_labelled_pixel(demo_run, from_checkpoint):
    matrix, out = from_checkpoint
    labels = _val_labels(demo_run.data_root)
    labels = labels[labels != 255]
    assert matrix.shape == (NUM_CLASSES, NUM_CLASSES)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=NUM_CLASSES))
    # a square of max(4, 0.45 * 6 + 2) = 4.7 inches at 100 dpi
    assert Image.open(out).size == (470, 470)
    assert osp.getsize(out) > 0


def test_miou_of_the_matrix_equals_test_py(demo_run, from_checkpoint):
    matrix, _ = from_checkpoint
    miou = np.nanmean(iou_from_confusion(matrix)) * 100
    assert miou == pytest.approx(demo_run.metrics['mIoU'], abs=0.01)


def test_from_pred_dir_equals_from_checkpoint(demo_run, tools, from_checkpoint, tmp_path):
    out = str(tmp_path / 'cm_png.png')
    matrix = tools.confusion_matrix.main([demo_run.config, '--pred-dir', demo_run.pred_dir,
                                          '--out', out, '--dpi', '50', '--cfg-options']
                                         + demo_run.options)
    np.testing.assert_array_equal(matrix, from_checkpoint[0])
    assert Image.open(out).size == (235, 235)


def test_missing_prediction_names_the_file(demo_run, tools, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'val_0000\.png.*tools/test\.py'):
        tools.confusion_matrix.main([demo_run.config, '--pred-dir', str(tmp_path), '--out',
                                     str(tmp_path / 'x.png'), '--cfg-options']
                                    + demo_run.options)


def test_checkpoint_and_pred_dir_exclude_each_other(tools):
    for argv in (['cfg.py'], ['cfg.py', 'ckpt.pth', '--pred-dir', 'pred']):
        with pytest.raises(SystemExit):
            tools.confusion_matrix.parse_args(argv)


def test_confusion_matrix_counts_pairs_and_skips_ignored_pixels():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 4, (20, 30))
    label[:3] = 255
    pred = rng.integers(0, 4, (20, 30))
    expected = np.zeros((4, 4), np.int64)
    for gt, pr in zip(label.ravel(), pred.ravel()):
        if gt != 255:
            expected[gt, pr] += 1
    np.testing.assert_array_equal(confusion_matrix(label, pred, 4), expected)
    with pytest.raises(ValueError, match=r'pred values \[7\] are outside \[0, 4\)'):
        confusion_matrix(label, np.full_like(pred, 7), 4)


def test_iou_and_row_normalisation():
    matrix = np.array([[3, 1, 0], [2, 4, 0], [0, 0, 0]])
    iou = iou_from_confusion(matrix)
    np.testing.assert_allclose(iou[:2], [3 / 6, 4 / 7])
    assert np.isnan(iou[2])  # neither labelled nor predicted: left out of the mean
    np.testing.assert_allclose(normalize_rows(matrix), [[.75, .25, 0], [1 / 3, 2 / 3, 0],
                                                        [0, 0, 0]])
