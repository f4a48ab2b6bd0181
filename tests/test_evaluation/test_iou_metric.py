"""IoUMetric against an independent numpy confusion-matrix computation."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from PIL import Image

from fcn_mm.evaluation.metrics.iou_metric import (IoUMetric, intersect_and_union,
                                                   total_area_to_metrics)
from fcn_mm.registry import METRICS
from fcn_mm.structures import SegDataSample

C = 8


def _data(seed=0, n=5, h=23, w=31):
    """Random predictions and labels with ignored pixels and absent classes.

    Class 5 never appears anywhere; class 6 only in predictions; class 7 only in labels.
    """
    rng = np.random.default_rng(seed)
    preds, labels = [], []
    for _ in range(n):
        label = rng.choice([0, 1, 2, 3, 4, 7], size=(h, w))
        label[rng.random((h, w)) < 0.2] = 255
        pred = np.where(rng.random((h, w)) < 0.6, label, rng.choice([0, 1, 2, 3, 4, 6],
                                                                     size=(h, w)))
        pred[pred == 255] = 6
        pred[pred == 7] = 2
        preds.append(pred)
        labels.append(label)
    return preds, labels


def _reference(preds, labels):
    conf = np.zeros((C, C))
    for pred, label in zip(preds, labels):
        for t, p in zip(label.ravel(), pred.ravel()):
            if t != 255:
                conf[t, p] += 1
    tp = np.diag(conf)
    gt, pr = conf.sum(1), conf.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        precision, recall = tp / pr, tp / gt
        return dict(
            aAcc=tp.sum() / gt.sum(), IoU=tp / (gt + pr - tp), Acc=tp / gt,
            Dice=2 * tp / (gt + pr), Precision=precision, Recall=recall,
            Fscore=2 * precision * recall / (precision + recall))


def _samples(preds, labels):
    out = []
    for pred, label in zip(preds, labels):
        s = SegDataSample(metainfo=dict(img_path=f'/x/img_{len(out)}.jpg'))
        s.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
        s.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
        out.append(s.to_dict())
    return out


def test_unrounded_arrays_equal_reference():
    preds, labels = _data()
    areas = [intersect_and_union(torch.from_numpy(p), torch.from_numpy(t), C, 255)
             for p, t in zip(preds, labels)]
    totals = [np.sum([a[i] for a in areas], axis=0) for i in range(4)]
    got = total_area_to_metrics(*totals, metrics=['mIoU', 'mDice', 'mFscore'])
    ref = _reference(preds, labels)
    assert set(got) == set(ref)
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-6, err_msg=key)
    # the NaN pattern: class 5 absent, 6 never labelled, 7 never predicted
    assert np.isnan(got['IoU'][5]) and got['IoU'][6] == 0 and got['IoU'][7] == 0
    assert np.isnan(got['Acc'][6]) and np.isnan(got['Recall'][6])
    assert np.isnan(got['Precision'][7]) and np.isnan(got['Fscore'][7])
    assert np.isnan(got['Dice'][5]) and not np.isnan(got['Dice'][6])


def test_ignore_index_inside_class_range():
    preds, labels = _data(seed=1, n=2)
    labels = [np.where(t == 255, 3, t) for t in labels]
    a = intersect_and_union(preds[0], labels[0], C, ignore_index=3)
    keep = labels[0] != 3
    assert a[3].sum() == keep.sum() and a[3][3] == 0


def test_metric_summary_percent_and_nan_skipped(tmp_path):
    preds, labels = _data(seed=2)
    metric = METRICS.build(dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore']))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(C)])
    metric.process({}, _samples(preds, labels))
    res = metric.evaluate(len(preds))
    ref = _reference(preds, labels)
    assert list(res) == ['aAcc', 'mIoU', 'mAcc', 'mFscore', 'mPrecision', 'mRecall']
    assert res['aAcc'] == round(ref['aAcc'] * 100, 2)
    assert res['mIoU'] == round(np.nanmean(ref['IoU']) * 100, 2)
    assert res['mAcc'] == round(np.nanmean(ref['Acc']) * 100, 2)
    assert res['mPrecision'] == round(np.nanmean(ref['Precision']) * 100, 2)


def test_default_keys_and_nan_to_num():
    preds, labels = _data(seed=3, n=2)
    metric = IoUMetric(nan_to_num=0)
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(C)])
    metric.process({}, _samples(preds, labels))
    res = metric.evaluate(2)
    assert list(res) == ['aAcc', 'mIoU', 'mAcc']
    ref = _reference(preds, labels)
    assert res['mIoU'] == round(np.nan_to_num(ref['IoU']).mean() * 100, 2)


def test_format_only_writes_palette_pngs(tmp_path):
    preds, labels = _data(seed=4, n=2)
    metric = IoUMetric(format_only=True, output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(C)],
                               palette=[[i, 2 * i, 3 * i] for i in range(C)])
    metric.process({}, _samples(preds, labels))
    assert metric.evaluate(2) == {}
    png = Image.open(tmp_path / 'img_1.png')
    assert png.mode == 'P' and png.getpalette()[3:6] == [1, 2, 3]
    np.testing.assert_array_equal(np.asarray(png), preds[1])


def test_bad_inputs():
    with pytest.raises(KeyError, match="'mAP'"):
        IoUMetric(iou_metrics=['mAP'])
    with pytest.raises(ValueError, match=r'class indices in \[0, 8\)'):
        intersect_and_union(np.full((2, 2), 8), np.zeros((2, 2), int), C)
    metric = IoUMetric()
    with pytest.raises(KeyError, match='dataset_meta'):
        metric.process({}, _samples(*_data(n=1)))
