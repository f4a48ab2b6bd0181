"""Run the label rules over (a sample of) the masks of a built dataset."""
import os.path as osp
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from mmengine.utils import ProgressBar

from .findings import LabelCheckReport
from .mask_stats import read_image_size, read_mask_stats
from .rules import (check_binary_255, check_head_num_classes, check_label_values,
                    check_mask_modes, check_missing_masks, check_reduce_zero_label,
                    check_sizes, check_unreadable_masks)
from .spec import LabelSpec, SampleRecord

__all__ = ['leaf_datasets', 'label_spec_of', 'sample_indices', 'check_dataset_labels']


def leaf_datasets(dataset, name: str) -> Iterator[Tuple[str, object]]:
    """The datasets inside wrappers (``ConcatDataset.datasets``, ``RepeatDataset.dataset``).

    Args:
        dataset: a dataset object.
        name (str): its config path, e.g. ``'train_dataloader.dataset'``.

    Yields:
        tuple[str, dataset]: config path and dataset of each leaf.
    """
    if isinstance(getattr(dataset, 'datasets', None), (list, tuple)):
        for i, sub in enumerate(dataset.datasets):
            yield from leaf_datasets(sub, f'{name}.datasets[{i}]')
    elif getattr(dataset, 'dataset', None) is not None and not hasattr(dataset, 'data_prefix'):
        yield from leaf_datasets(dataset.dataset, f'{name}.dataset')
    else:
        yield name, dataset


def _pipeline_reduce_zero_label(dataset) -> Optional[bool]:
    """``reduce_zero_label`` given to ``LoadAnnotations`` in the pipeline (it wins)."""
    for transform in getattr(getattr(dataset, 'pipeline', None), 'transforms', []):
        if type(transform).__name__ == 'LoadAnnotations':
            value = getattr(transform, 'reduce_zero_label', None)
            if value is not None:
                return bool(value)
    return None


def _pipeline_label_mappers(dataset) -> list:
    """``map_labels`` of the transforms after ``LoadAnnotations`` that rewrite labels."""
    mappers, loaded = [], False
    for transform in getattr(getattr(dataset, 'pipeline', None), 'transforms', []):
        loaded = loaded or type(transform).__name__ == 'LoadAnnotations'
        if loaded and callable(getattr(transform, 'map_labels', None)):
            mappers.append(transform.map_labels)
    return mappers


def label_spec_of(dataset, name: str,
                  head_num_classes: Optional[Dict[str, int]] = None) -> LabelSpec:
    """The label settings of a dataset as its pipeline applies them.

    Args:
        dataset: a (leaf) segmentation dataset.
        name (str): its config path.
        head_num_classes (dict[str, int], optional): config key -> ``num_classes``.

    Returns:
        LabelSpec: classes, ignore index, reduce_zero_label (the pipeline's
        ``LoadAnnotations`` argument if set, else the dataset's), label_map and the
        pipeline's label mappers (``BinarizeLabels``).
    """
    metainfo = getattr(dataset, 'metainfo', {}) or {}
    reduce = _pipeline_reduce_zero_label(dataset)
    if reduce is None:
        reduce = bool(getattr(dataset, 'reduce_zero_label',
                              metainfo.get('reduce_zero_label', False)))
    return LabelSpec(
        name=name, type_name=type(dataset).__name__,
        classes=tuple(metainfo.get('classes') or ()),
        ignore_index=int(getattr(dataset, 'ignore_index', 255)),
        reduce_zero_label=reduce,
        label_map=getattr(dataset, 'label_map', None) or metainfo.get('label_map'),
        head_num_classes=dict(head_num_classes or {}),
        label_mappers=tuple(_pipeline_label_mappers(dataset)))


def sample_indices(total: int, num_samples: Optional[int]) -> List[int]:
    """Evenly spaced indices over the dataset (all of them for None or >= total).

    Args:
        total (int): dataset length.
        num_samples (int, optional): how many to check.

    Returns:
        list[int]: ascending, without repeats; the first and last sample included.
    """
    if num_samples is None or num_samples >= total:
        return list(range(total))
    if num_samples <= 0:
        return []
    return sorted(set(np.linspace(0, total - 1, num_samples).round().astype(int).tolist()))


def _listed_pairs(dataset) -> Tuple[List[Tuple[str, str]], Optional[Exception]]:
    """(image, mask) paths of every sample; missing masks included.

    A dataset whose list cannot be built because a mask is missing
    (``BaseSegDataset`` raises on the first one) is listed again here, without
    that check, so that every image without a mask is reported at once.
    """
    try:
        dataset.full_init()
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        return [(info.get('img_path'), info.get('seg_map_path')) for info in infos], None
    except FileNotFoundError as error:
        if not hasattr(dataset, '_scan_images'):
            raise
        img_dir = dataset.data_prefix['img_path']
        seg_dir = dataset.data_prefix['seg_map_path']
        if (not osp.isdir(img_dir) or not osp.isdir(seg_dir)
                or (dataset.ann_file and not osp.isfile(dataset.ann_file))):
            raise  # a missing folder or split file: the dataset's own message names it
        stems = dataset._read_split() if dataset.ann_file else dataset._scan_images(img_dir)
        pairs = [(osp.join(img_dir, s + dataset.img_suffix),
                  osp.join(seg_dir, s + dataset.seg_map_suffix)) for s in stems]
        if any(not osp.isfile(img) for img, _ in pairs):
            raise  # a listed image is missing: the dataset's own message says which
        return pairs, error


def _read_sample(img_path: str, seg_map_path: str) -> SampleRecord:
    record = SampleRecord(img_path, seg_map_path)
    if not seg_map_path or not osp.isfile(seg_map_path):
        return record
    record.mask = read_mask_stats(seg_map_path)
    if not img_path:
        return record
    try:
        record.img_size, record.img_rotated = read_image_size(img_path)
    except Exception:  # missing or undecodable: LoadImageFromFile names it when training
        pass
    return record


def check_dataset_labels(dataset, name: str = 'dataset', num_samples: Optional[int] = None,
                         head_num_classes: Optional[Dict[str, int]] = None,
                         progress: bool = False) -> LabelCheckReport:
    """Check the masks of a dataset (wrappers are looked into).

    Args:
        dataset: a built segmentation dataset (``lazy_init`` is fine).
        name (str): its config path, used in the findings.
        num_samples (int, optional): masks to check per leaf dataset, evenly spaced;
            None checks all.
        head_num_classes (dict[str, int], optional): config key -> ``num_classes`` of
            each model head (compared with ``len(classes)``).
        progress (bool): show a progress bar. Defaults to False.

    Returns:
        LabelCheckReport: the findings (nothing raised or logged here).
    """
    report = LabelCheckReport()
    for leaf_name, leaf in leaf_datasets(dataset, name):
        report.merge(_check_leaf(leaf, leaf_name, num_samples, head_num_classes, progress))
    return report


def _check_leaf(dataset, name: str, num_samples: Optional[int],
                head_num_classes: Optional[Dict[str, int]],
                progress: bool) -> LabelCheckReport:
    spec = label_spec_of(dataset, name, head_num_classes)
    pairs, listing_error = _listed_pairs(dataset)
    if pairs and all(seg is None for _, seg in pairs):  # a dataset without masks at all
        return LabelCheckReport([], {name: (0, len(pairs))})
    indices = sample_indices(len(pairs), num_samples)
    bar = ProgressBar(len(indices)) if progress and indices else None
    step = max(1, len(indices) // 50)  # about 50 redraws of the bar
    samples: List[SampleRecord] = []
    for n, i in enumerate(indices, 1):
        samples.append(_read_sample(*pairs[i]))
        if bar is not None and (n % step == 0 or n == len(indices)):
            bar.update(num_tasks=n - bar.completed)
    if bar is not None:
        print(f' {name}')
    missing = [s for s in samples if s.mask is None]
    if listing_error is not None:
        # the whole list: it costs no decoding, and every missing mask is named at once
        missing = [SampleRecord(img, seg) for img, seg in pairs if not osp.isfile(seg)]
    read = [s for s in samples if s.mask is not None]
    findings = check_head_num_classes(spec)
    findings += check_missing_masks(spec, missing, len(pairs))
    findings += check_unreadable_masks(spec, read)
    findings += check_mask_modes(spec, read)
    findings += check_sizes(spec, read)
    binary = check_binary_255(spec, read)
    values = check_label_values(spec, read)
    findings += binary + values
    findings += check_reduce_zero_label(spec, read, values)
    return LabelCheckReport(findings, {name: (len(read), len(pairs))})


