"""The label rules: each takes a dataset's :class:`LabelSpec` and its samples, returns findings.

Errors (training stops): a head's ``num_classes`` other than ``len(classes)``, images
without masks, masks that cannot be decoded, masks that are not one-channel index
images (RGB), image and mask sizes that differ, binary masks stored as 0/255, label
values outside ``[0, num_classes)`` and the ignore index. Warnings: ``reduce_zero_label``
that contradicts the data.
"""
from typing import List, Sequence

import numpy as np

from .findings import ERROR, WARNING, LabelFinding
from .mask_stats import INDEX_MODES
from .spec import LabelSpec, SampleRecord

__all__ = ['check_head_num_classes', 'check_missing_masks', 'check_unreadable_masks',
           'check_mask_modes', 'check_sizes', 'check_binary_255', 'check_label_values',
           'check_reduce_zero_label', 'index_samples']

_EXAMPLES = 3
_JPEG = ('.jpg', '.jpeg')
_COLOUR_MODES = ('RGB', 'RGBA', 'RGBX', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'RGBa')


def _finding(kind: str, severity: str, spec: LabelSpec, problem: str, found: str,
             fix: str) -> LabelFinding:
    return LabelFinding(kind, severity, spec.name, problem, found, fix)


def _of(num: int, total: int, what: str = 'masks checked') -> str:
    return f'{num} of {total} {what}'


def _more(items: Sequence, shown: int = _EXAMPLES) -> str:
    return f'; and {len(items) - shown} more' if len(items) > shown else ''


def _values(values, limit: int = 12) -> str:
    values = [int(v) for v in values]
    text = ', '.join(map(str, values[:limit]))
    return f'[{text}{", ..." if len(values) > limit else ""}]'


def index_samples(samples: Sequence[SampleRecord]) -> List[SampleRecord]:
    """The samples whose mask was read as a one-channel index image."""
    return [s for s in samples if s.mask is not None and s.mask.counts is not None]


def check_head_num_classes(spec: LabelSpec) -> List[LabelFinding]:
    """Each head's ``num_classes`` must equal ``len(classes)``."""
    wrong = {k: v for k, v in spec.head_num_classes.items() if v != spec.num_classes}
    if not wrong or not spec.num_classes:
        return []
    found = ', '.join(f'{k}={v}' for k, v in wrong.items())
    return [_finding(
        'num_classes', ERROR, spec,
        f'the model predicts a different number of classes than the dataset has '
        f'({spec.num_classes} classes: {tuple(spec.classes)[:8]}'
        f'{"..." if spec.num_classes > 8 else ""})',
        found,
        f'set num_classes={spec.num_classes} in every head (decode_head and '
        f'auxiliary_head; binary segmentation with out_channels=1 also keeps '
        f'num_classes=2), or list the classes of your masks in the dataset\'s '
        f'metainfo=dict(classes=...)')]


def check_missing_masks(spec: LabelSpec, missing: Sequence[SampleRecord],
                        total: int) -> List[LabelFinding]:
    """Images listed by the dataset whose mask file does not exist."""
    if not missing:
        return []
    shown = '; '.join(f'{s.img_path} (expected {s.seg_map_path})'
                      for s in missing[:_EXAMPLES])
    return [_finding(
        'missing_mask', ERROR, spec,
        f'{_of(len(missing), total, "images")} have no mask',
        shown + _more(missing),
        'add the missing masks, or list only images that have one in ann_file; check '
        'data_prefix.seg_map_path and seg_map_suffix (the mask path is the image path '
        'with img_suffix replaced by seg_map_suffix, under seg_map_path)')]


def check_unreadable_masks(spec: LabelSpec, samples: Sequence[SampleRecord]
                           ) -> List[LabelFinding]:
    """Mask files that cannot be decoded (or hold negative values)."""
    bad = [s for s in samples if s.mask is not None and s.mask.error]
    if not bad:
        return []
    return [_finding(
        'unreadable_mask', ERROR, spec,
        f'{_of(len(bad), len(samples))} cannot be read as label images',
        '; '.join(f'{s.mask.path} {s.mask.error}' for s in bad[:_EXAMPLES]) + _more(bad),
        're-export these files as PNGs whose pixel values are class indices 0..255')]


def check_mask_modes(spec: LabelSpec, samples: Sequence[SampleRecord]
                     ) -> List[LabelFinding]:
    """Masks that are colour (RGB) or other multi-channel images, not index images."""
    bad = [s for s in samples
           if s.mask is not None and not s.mask.error and s.mask.mode not in INDEX_MODES]
    if not bad:
        return []
    parts = []
    for s in bad[:_EXAMPLES]:
        colours = ', '.join(str(c) for c, _ in (s.mask.colours or [])[:6])
        parts.append(f'{s.mask.path} is a "{s.mask.mode}" image (most frequent pixel '
                     f'values: {colours})')
    grey = all(s.mask.colours and all(len(set(c[:3])) == 1 for c, _ in s.mask.colours)
               for s in bad)
    if grey:
        fix = ('the channels are equal (grey values saved as colour): save each mask as a '
               'one-channel "L" PNG of class indices, e.g. '
               'Image.fromarray(mask[..., 0]).save(path)')
    else:
        fix = ('convert each colour to its class index and save one-channel PNGs ("P" '
               'with a palette or "L"); the dataset\'s metainfo palette (one RGB colour per '
               'class, in class order) tells which colour is which class')
    colour = all(s.mask.mode in _COLOUR_MODES for s in bad)
    what = 'colour images' if colour else 'not one-channel index images'
    return [_finding(
        'rgb_mask', ERROR, spec,
        f'{_of(len(bad), len(samples))} are {what} where one-channel index masks '
        f'(pixel value = class index) are expected',
        '; '.join(parts) + _more(bad), fix)]


def check_sizes(spec: LabelSpec, samples: Sequence[SampleRecord]) -> List[LabelFinding]:
    """Image and mask of a sample must have the same (H, W)."""
    bad = [s for s in samples if s.mask is not None and not s.mask.error
           and s.img_size is not None and tuple(s.img_size) != tuple(s.mask.size)]
    if not bad:
        return []
    parts = []
    for s in bad[:_EXAMPLES]:
        note = ' after its EXIF rotation' if s.img_rotated else ''
        parts.append(f'image {s.img_path} is (H, W)={tuple(s.img_size)}{note}, mask '
                     f'{s.mask.path} is {tuple(s.mask.size)}')
    fix = ('every mask must have the size of its image: re-export the masks at the image '
           'size (resize masks only with nearest-neighbour interpolation)')
    if any(s.img_rotated for s in bad):
        fix += ('; for EXIF-rotated images, save the images rotated (e.g. '
                'PIL.ImageOps.exif_transpose) or rotate the masks the same way')
    return [_finding('size_mismatch', ERROR, spec,
                     f'{_of(len(bad), len(samples))} differ in size from their image',
                     '; '.join(parts) + _more(bad), fix)]


def check_binary_255(spec: LabelSpec, samples: Sequence[SampleRecord]
                     ) -> List[LabelFinding]:
    """Every mask holds only 0 and 255: a binary mask whose foreground is ignored."""
    masks = index_samples(samples)
    if not masks or spec.num_classes < 2:
        return []
    present = set()
    for s in masks:
        present.update(int(v) for v in s.mask.values)
    if not present <= {0, 255} or 255 not in present:
        return []
    share = sum(int(s.mask.counts[255]) for s in masks) / max(
        1, sum(int(s.mask.counts.sum()) for s in masks))
    examples = ', '.join(s.mask.path for s in masks[:_EXAMPLES]) + _more(masks)
    problem = (f'all {len(masks)} masks checked hold only the values 0 and 255: 255 is '
               f'the ignore index, so the foreground ({share:.0%} of the pixels) is '
               f'ignored by the loss and the metric and class 1 '
               f'("{spec.classes[1]}") never appears')
    return [_finding(
        'binary_255', ERROR, spec, problem, f'values [0, 255] in {examples}',
        'store the foreground as 1, e.g. mask = (mask == 255).astype(np.uint8) before '
        'saving (keep 255 only for pixels to ignore); the masks then hold 0 and 1')]


def _transformed_values(spec: LabelSpec, counts: np.ndarray) -> np.ndarray:
    raw = np.flatnonzero(counts)
    return np.unique(spec.label_lut(len(counts))[raw])


def check_label_values(spec: LabelSpec, samples: Sequence[SampleRecord]
                       ) -> List[LabelFinding]:
    """Training labels (after reduce_zero_label and label_map) must be < num_classes or
    the ignore index."""
    masks = index_samples(samples)
    n = spec.num_classes
    if not masks or not n:
        return []
    bad = []
    for s in masks:
        labels = _transformed_values(spec, s.mask.counts)
        wrong = labels[(labels >= n) & (labels != spec.ignore_index) | (labels < 0)]
        if wrong.size:
            bad.append((s, wrong))
    if not bad:
        return []
    all_wrong = np.unique(np.concatenate([w for _, w in bad]))
    after = []
    if spec.reduce_zero_label:
        after.append('reduce_zero_label')
    if spec.label_map:
        after.append('label_map')
    note = f' (after {" and ".join(after)})' if after else ''
    found = '; '.join(f'{s.mask.path}: {_values(w)}' for s, w in bad[:_EXAMPLES]) + _more(bad)
    return [_finding(
        'label_range', ERROR, spec,
        f'{_of(len(bad), len(masks))} hold labels{note} outside [0, {n}) that are not '
        f'the ignore index {spec.ignore_index}',
        found, _label_range_fix(spec, masks, bad, all_wrong))]


def _label_range_fix(spec: LabelSpec, masks, bad, all_wrong: np.ndarray) -> str:
    n = spec.num_classes
    zero_seen = any(s.mask.counts[0] for s in masks)
    raw_top = max((int(v) for s in masks for v in s.mask.values if v != spec.ignore_index),
                  default=0)
    if not spec.reduce_zero_label and not zero_seen and raw_top == n:
        return (f'the masks hold 1..{n} and never 0, i.e. the labels start at 1: set '
                f'reduce_zero_label=True in the dataset (value v becomes class v-1, 0 is '
                f'ignored), or store the labels as 0..{n - 1}')
    if n == 2 and set(all_wrong.tolist()) == {255} - {spec.ignore_index}:
        return ('binary masks stored as 0/255: store the foreground as 1 '
                '(mask = (mask == 255).astype(np.uint8))')
    lossy = any(s.seg_map_path.lower().endswith(_JPEG) for s, _ in bad)
    if lossy or all_wrong.size > max(8, 2 * n):
        return ('many in-between values: masks saved as JPEG (lossy) or resized with '
                'interpolation. Save masks as PNG (seg_map_suffix=\'.png\') and resize them '
                'only with nearest-neighbour interpolation')
    top = int(all_wrong.max())
    return (f'if these values are classes, list {top + 1} classes in the dataset\'s '
            f'metainfo=dict(classes=..., palette=...) and set num_classes={top + 1} in every '
            f'head; otherwise map them to class indices below {n}, or to '
            f'{spec.ignore_index} (ignored)')


def check_reduce_zero_label(spec: LabelSpec, samples: Sequence[SampleRecord],
                            range_findings: Sequence[LabelFinding] = ()
                            ) -> List[LabelFinding]:
    """Warn when reduce_zero_label contradicts the data.

    With ``reduce_zero_label=True``: label 0 is in every mask checked and is the most
    frequent value (a background class that would be ignored). With False: label 0 is
    in none of the masks (the labels probably start at 1). The second is left out when
    :func:`check_label_values` already reported values out of range.
    """
    masks = index_samples(samples)
    if not masks or not spec.num_classes:
        return []
    with_zero = [s for s in masks if s.mask.counts[0]]
    examples = ', '.join(s.mask.path for s in masks[:_EXAMPLES]) + _more(masks)
    if spec.reduce_zero_label and len(with_zero) == len(masks):
        total = np.zeros(256, np.int64)
        for s in masks:
            total += s.mask.counts[:256]
        valid = total.copy()
        valid[255] = 0
        if int(np.argmax(valid)) != 0:
            return []
        share = total[0] / max(1, total.sum())
        return [_finding(
            'reduce_zero_label', WARNING, spec,
            f'reduce_zero_label=True, but label 0 is in all {len(masks)} masks checked and '
            f'is their most frequent value ({share:.0%} of the pixels); it is turned into '
            f'the ignore index, so it is neither trained nor scored',
            f'value 0 in {examples}',
            f'if 0 is a class (e.g. background), set reduce_zero_label=False and count it '
            f'in classes (then {spec.num_classes + 1} classes); if 0 really means '
            f'"unlabelled", ignore this warning')]
    if not spec.reduce_zero_label and not with_zero and not range_findings:
        return [_finding(
            'reduce_zero_label', WARNING, spec,
            f'label 0 (class "{spec.classes[0]}") is in none of the {len(masks)} masks '
            f'checked',
            f'values start above 0 in {examples}',
            'if your labels start at 1 and 0 is unused, set reduce_zero_label=True and drop '
            'the first class from classes; if class 0 is just rare, ignore this warning')]
    return []
