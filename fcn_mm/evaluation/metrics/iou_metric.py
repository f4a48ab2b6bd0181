"""IoUMetric: aAcc, per-class IoU / Acc / Dice / Precision / Recall / F-score."""
import os
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable

from fcn_mm.registry import METRICS
from fcn_mm.utils.label_png import save_prediction_png
from fcn_mm.utils.misc import to_numpy

__all__ = ['IoUMetric', 'confusion_matrix', 'areas_from_confusion', 'intersect_and_union',
           'iou_from_confusion', 'total_area_to_metrics']

_ALLOWED = ('mIoU', 'mDice', 'mFscore')
AreaTuple = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def confusion_matrix(label: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """Count (label, prediction) pairs of one image with a single bincount.

    The one confusion-matrix implementation of fcn_mm: :class:`IoUMetric`'s areas
    (:func:`intersect_and_union`) and the confusion-matrix tools are built on it. Pixels
    whose label is ``ignore_index`` or outside ``[0, num_classes)`` are left out.

    Args:
        label (np.ndarray | Tensor): (H, W) (or any shape) ground-truth class indices.
        pred (np.ndarray | Tensor): predicted class indices, the same shape.
        num_classes (int): C.
        ignore_index (int): label value to skip. Defaults to 255.

    Returns:
        np.ndarray: (C, C) int64, rows = ground truth, columns = prediction.

    Raises:
        ValueError: the shapes differ, or a prediction outside ``[0, num_classes)``.
    """
    pred = to_numpy(pred).astype(np.int64, copy=False)
    label = to_numpy(label).astype(np.int64, copy=False)
    if pred.shape != label.shape:
        raise ValueError(f'prediction shape {pred.shape} != label shape {label.shape}')
    c = num_classes
    if pred.size and (pred.min() < 0 or pred.max() >= c):
        bad = np.unique(pred[(pred < 0) | (pred >= c)])
        raise ValueError(f'pred values {bad.tolist()} are outside [0, {c}): predictions '
                         f'must be class indices in [0, {c})')
    if 0 <= ignore_index < c or (label.size and label.min() < 0):
        valid = (label >= 0) & (label < c) & (label != ignore_index)
        key = label[valid] * c + pred[valid]
    else:  # labels >= C (e.g. 255) land beyond C * C and are sliced off below
        key = (label * c + pred).ravel()
    return np.bincount(key, minlength=c * c)[:c * c].reshape(c, c)


def areas_from_confusion(confusion: np.ndarray) -> AreaTuple:
    """Per-class areas of a confusion matrix (rows = ground truth).

    Args:
        confusion (np.ndarray): (C, C) counts.

    Returns:
        tuple[np.ndarray]: ``area_intersect, area_union, area_pred_label,
        area_label``, each (C,).
    """
    confusion = np.asarray(confusion)
    area_intersect = np.diagonal(confusion).copy()
    area_label = confusion.sum(axis=1)
    area_pred = confusion.sum(axis=0)
    return area_intersect, area_pred + area_label - area_intersect, area_pred, area_label


def intersect_and_union(pred: np.ndarray, label: np.ndarray, num_classes: int,
                        ignore_index: int = 255) -> AreaTuple:
    """Per-class areas of one image (:func:`confusion_matrix`, then its areas).

    Pixels whose label is ``ignore_index`` or outside ``[0, num_classes)`` are left
    out. Predictions must be class indices in ``[0, num_classes)``.

    Args:
        pred (np.ndarray | Tensor): (H, W) predicted class indices.
        label (np.ndarray | Tensor): (H, W) ground-truth indices.
        num_classes (int): C.
        ignore_index (int): Defaults to 255.

    Returns:
        tuple[np.ndarray]: ``area_intersect, area_union, area_pred_label,
        area_label``, each (C,) int64.
    """
    return areas_from_confusion(confusion_matrix(label, pred, num_classes, ignore_index))


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class IoU of a confusion matrix, as :class:`IoUMetric` computes it.

    Args:
        confusion (np.ndarray): (C, C) counts, rows = ground truth.

    Returns:
        np.ndarray: (C,) float64 IoU in [0, 1]; NaN for a class that is neither in the
        ground truth nor predicted (left out of the mean, as ``IoUMetric`` does).
    """
    return total_area_to_metrics(*areas_from_confusion(confusion))['IoU']


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def total_area_to_metrics(total_area_intersect: np.ndarray,
                          total_area_union: np.ndarray,
                          total_area_pred_label: np.ndarray,
                          total_area_label: np.ndarray,
                          metrics: Sequence[str] = ('mIoU',),
                          nan_to_num: Optional[float] = None,
                          beta: float = 1) -> Dict[str, np.ndarray]:
    """Unrounded fractions (0..1) from areas summed over the dataset.

    NaN marks an undefined value: IoU when the union is 0, Acc and Recall when the
    label area is 0, Precision when the predicted area is 0, Dice when both areas
    are 0, Fscore when precision or recall is NaN or both are 0.

    Args:
        total_area_intersect, total_area_union, total_area_pred_label,
            total_area_label (np.ndarray): (C,) areas.
        metrics (Sequence[str]): any of ``'mIoU'`` (IoU, Acc), ``'mDice'`` (Dice,
            Acc), ``'mFscore'`` (Fscore, Precision, Recall).
        nan_to_num (float, optional): replace NaN by this value.
        beta (float): F-score beta. Defaults to 1.

    Returns:
        dict[str, np.ndarray]: ``aAcc`` (scalar array) and (C,) arrays named
        ``IoU``, ``Acc``, ``Dice``, ``Fscore``, ``Precision``, ``Recall``.
    """
    bad = [m for m in metrics if m not in _ALLOWED]
    if bad:
        raise KeyError(f'iou_metrics {bad} not supported; choose from {list(_ALLOWED)}')
    inter = np.asarray(total_area_intersect, dtype=np.float64)
    label = np.asarray(total_area_label, dtype=np.float64)
    pred = np.asarray(total_area_pred_label, dtype=np.float64)
    out = OrderedDict(aAcc=_divide(inter.sum(), label.sum()))
    for metric in metrics:
        if metric == 'mIoU':
            out['IoU'] = _divide(inter, total_area_union)
            out['Acc'] = _divide(inter, label)
        elif metric == 'mDice':
            out['Dice'] = _divide(2 * inter, pred + label)
            out['Acc'] = _divide(inter, label)
        else:
            precision, recall = _divide(inter, pred), _divide(inter, label)
            out['Fscore'] = _divide((1 + beta ** 2) * precision * recall,
                                    beta ** 2 * precision + recall)
            out['Precision'], out['Recall'] = precision, recall
    if nan_to_num is not None:
        out = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num)) for k, v in out.items())
    return out


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """Semantic segmentation metric (MMSegmentation's ``IoUMetric`` keys and values).

    ``process`` keeps per image only four (C,) area vectors; ``compute_metrics``
    sums them (over all processes), prints a per-class table through the mmengine
    logger, and returns ``aAcc`` and the means (``mIoU``, ``mAcc``, ``mDice``,
    ``mFscore``, ``mPrecision``, ``mRecall`` as requested), in percent rounded to 2
    decimals; NaN classes are skipped in the means. C is
    ``len(dataset_meta['classes'])``. The per-class values of the last evaluation are
    kept in :attr:`per_class_results` (fcn_mm's ``ValLoop`` sends them to the
    visualizer backends, e.g. TensorBoard, as ``IoU.<class>`` / ``Acc.<class>``).

    Args:
        ignore_index (int): label value to ignore. Defaults to 255.
        iou_metrics (list[str]): ``'mIoU'``, ``'mDice'``, ``'mFscore'``.
            Defaults to ``['mIoU']``.
        nan_to_num (float, optional): replace undefined values. Defaults to None.
        beta (float): F-score beta. Defaults to 1.
        collect_device (str): Defaults to ``'cpu'``.
        output_dir (str, optional): where ``format_only`` writes prediction PNGs.
        format_only (bool): only write predictions as 'P' PNGs (no ground truth
            needed; ``compute_metrics`` returns ``{}``). Defaults to False.
        prefix (str, optional): metric name prefix (``'<prefix>/mIoU'``). Defaults
            to None: no prefix, MMSegmentation's names (``'mIoU'``).

    Attributes:
        per_class_results (dict): ``{'IoU': {class: percent}, 'Acc': {...}, ...}`` of
            the last ``compute_metrics`` (main process only); empty before that.
    """

    # MMSegmentation's metric names carry no prefix. An empty default (instead of
    # mmengine's None) says so, and keeps mmengine from warning 'The prefix is not set'.
    default_prefix: Optional[str] = ''

    def __init__(self, ignore_index: int = 255, iou_metrics: Sequence[str] = ('mIoU',),
                 nan_to_num: Optional[float] = None, beta: float = 1,
                 collect_device: str = 'cpu', output_dir: Optional[str] = None,
                 format_only: bool = False, prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(iou_metrics, str):
            iou_metrics = [iou_metrics]
        bad = [m for m in iou_metrics if m not in _ALLOWED]
        if bad:
            raise KeyError(f'IoUMetric.iou_metrics: {bad} not supported; choose from '
                           f'{list(_ALLOWED)}')
        if format_only and not output_dir:
            raise ValueError('IoUMetric: format_only=True needs output_dir')
        self.ignore_index = ignore_index
        self.metrics = list(iou_metrics)
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.output_dir = output_dir
        self.format_only = format_only
        self.per_class_results: Dict[str, Dict[str, float]] = {}
        if output_dir and is_main_process():
            os.makedirs(output_dir, exist_ok=True)

    @property
    def num_classes(self) -> int:
        """C = ``len(dataset_meta['classes'])``."""
        meta = self.dataset_meta or {}
        if not meta.get('classes'):
            raise KeyError('IoUMetric needs dataset_meta["classes"] (set by the Runner '
                           'from the dataset, or assign metric.dataset_meta).')
        return len(meta['classes'])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate the areas of each predicted sample.

        Args:
            data_batch (dict): unused.
            data_samples (Sequence[dict | SegDataSample]): with ``pred_sem_seg.data``
                (1, H, W) and, unless ``format_only``, ``gt_sem_seg.data`` (1, H, W).
        """
        num_classes = self.num_classes
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            pred = to_numpy(sample['pred_sem_seg']['data']).squeeze(0)
            if self.output_dir:
                self._write_png(pred, sample)
            if self.format_only:
                continue
            label = to_numpy(sample['gt_sem_seg']['data']).squeeze(0)
            self.results.append(
                intersect_and_union(pred, label, num_classes, self.ignore_index))

    def _write_png(self, pred: np.ndarray, sample) -> None:
        save_prediction_png(pred, self.output_dir,
                            sample.get('img_path') or f'{len(self.results)}.png',
                            (self.dataset_meta or {}).get('palette'),
                            reduce_zero_label=sample.get('reduce_zero_label', False))

    def compute_metrics(self, results: List[AreaTuple]) -> Dict[str, float]:
        """Sum the areas and compute the metrics.

        Args:
            results (list[tuple]): per-image area tuples from all processes.

        Returns:
            dict[str, float]: e.g. ``{'aAcc': 93.2, 'mIoU': 70.12, 'mAcc': 80.5}``.
        """
        logger = MMLogger.get_current_instance()
        if self.format_only:
            print_log(f'Predictions written to {self.output_dir}', logger=logger)
            return OrderedDict()
        if not results:
            raise ValueError('IoUMetric got no results to evaluate.')
        totals = [np.sum([r[i] for r in results], axis=0) for i in range(4)]
        per_class = total_area_to_metrics(*totals, metrics=self.metrics,
                                          nan_to_num=self.nan_to_num, beta=self.beta)
        summary = OrderedDict()
        for key, value in per_class.items():
            name = key if key == 'aAcc' else 'm' + key
            summary[name] = _percent(np.nanmean(value) if np.size(value) else np.nan)
        print_log('per class results:', logger=logger)
        print_log('\n' + self._table(per_class), logger=logger)
        names = list(self.dataset_meta['classes'])
        self.per_class_results = {
            key: {name: _percent(per_class[key][i]) for i, name in enumerate(names)}
            for key in per_class if key != 'aAcc'}
        return summary

    def _table(self, per_class: Dict[str, np.ndarray]) -> str:
        names = list(self.dataset_meta['classes'])
        columns = [k for k in per_class if k != 'aAcc']
        rows = [['Class'] + columns]
        for i, name in enumerate(names):
            rows.append([name] + [f'{_percent(per_class[k][i]):.2f}' for k in columns])
        return AsciiTable(rows).table


def _percent(value) -> float:
    return float(np.round(float(value) * 100, 2))


