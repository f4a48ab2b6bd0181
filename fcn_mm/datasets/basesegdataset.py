"""BaseSegDataset: image folder + label folder (+ optional split file) for segmentation."""
import copy
import logging
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, Compose
from mmengine.dataset import ConcatDataset as _MMEngineConcatDataset
from mmengine.logging import print_log

from fcn_mm.registry import DATASETS, TRANSFORMS

__all__ = ['BaseSegDataset', 'ConcatDataset']

PREPARE_DOC = 'docs/dataset_prepare.md'


@DATASETS.register_module()
class BaseSegDataset(BaseDataset):
    """A segmentation dataset: images in one folder, label PNGs in another.

    Each sample's ``data_info`` (the input of the pipeline) holds ``img_path``,
    ``seg_map_path``, ``reduce_zero_label``, ``seg_fields`` (empty list),
    ``num_classes`` (from ``metainfo['classes']``, so that ``LoadAnnotations`` can
    check label values), ``label_map`` and ``sample_idx``.

    ``metainfo['classes']`` that picks a subset of the class's own ``METAINFO``
    classes (as MMSegmentation) sets ``label_map`` (old index -> new index, 255 for
    the classes left out; ``LoadAnnotations`` applies it after ``reduce_zero_label``)
    and keeps the palette entries of the chosen classes. Classes that are not such a
    subset (a dataset of your own read with an existing loader) are the dataset's
    own classes: ``label_map`` is None.

    Args:
        ann_file (str): split file with one image stem per line, relative to
            ``data_root``. ``''`` uses every ``img_suffix`` file under the image
            folder (recursively, sorted). Defaults to ``''``.
        img_suffix (str): image file suffix. Defaults to ``'.jpg'``.
        seg_map_suffix (str): label file suffix. Defaults to ``'.png'``.
        metainfo (dict, optional): ``classes`` and ``palette``; overrides the
            class's ``METAINFO``. Defaults to None.
        data_root (str, optional): root joined to ``ann_file`` and ``data_prefix``.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders.
        filter_cfg, indices, serialize_data, test_mode, lazy_init, max_refetch:
            as :class:`mmengine.dataset.BaseDataset`.
        pipeline (list[dict | callable]): transforms, built in fcn_mm's registry.
        ignore_index (int): label value ignored by loss and metric. Defaults to 255.
        reduce_zero_label (bool): map label 0 to 255 and shift the others down by
            one (for datasets whose 0 means "unlabelled"). Defaults to False.
        refetch_on_none (bool): when the pipeline returns None for a sample, False
            (default) raises a ValueError naming the sample; True fetches another
            random sample instead (mmengine's behaviour) and logs how many times
            that happened.
        backend_args (dict, optional): file backend arguments. Defaults to None.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path='', seg_map_path=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 ignore_index: int = 255,
                 reduce_zero_label: bool = False,
                 refetch_on_none: bool = False,
                 backend_args: Optional[dict] = None) -> None:
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.refetch_on_none = refetch_on_none
        self.backend_args = copy.deepcopy(backend_args)
        self.num_refetched = 0
        data_prefix = {**dict(img_path='', seg_map_path=''), **data_prefix}
        super().__init__(
            ann_file=ann_file, metainfo=metainfo, data_root=data_root or '',
            data_prefix=data_prefix, filter_cfg=filter_cfg, indices=indices,
            serialize_data=serialize_data, pipeline=[], test_mode=test_mode,
            lazy_init=True, max_refetch=max_refetch)
        self.pipeline = Compose([_build_transform(t) for t in pipeline])
        self.label_map = class_subset_label_map(
            self.METAINFO.get('classes'), self._metainfo.get('classes'))
        if self.label_map is not None:
            self._metainfo['palette'] = _subset_palette(
                self._metainfo.get('palette'), self.label_map)
        self._metainfo.update(label_map=self.label_map, reduce_zero_label=reduce_zero_label)
        if not lazy_init:
            self.full_init()

    def load_data_list(self) -> List[dict]:
        """Collect ``(img_path, seg_map_path)`` pairs, checking that each file exists.

        Returns:
            list[dict]: one ``data_info`` per sample.
        """
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix['seg_map_path']
        self._check_folder(img_dir, 'data_prefix.img_path')
        self._check_folder(seg_dir, 'data_prefix.seg_map_path')
        stems = self._read_split() if self.ann_file else self._scan_images(img_dir)
        num_classes = len(self._metainfo.get('classes', ())) or None
        data_list = []
        for stem in stems:
            img_path = osp.join(img_dir, stem + self.img_suffix)
            seg_map_path = osp.join(seg_dir, stem + self.seg_map_suffix)
            if not osp.isfile(img_path):
                raise FileNotFoundError(
                    f'Image for id "{stem}" not found: {img_path} (listed in '
                    f'{self.ann_file or img_dir}). See {PREPARE_DOC}.')
            if not osp.isfile(seg_map_path):
                raise FileNotFoundError(
                    f'Label file for id "{stem}" not found: {seg_map_path} '
                    f'(image {img_path}). See {PREPARE_DOC}.')
            data_list.append(dict(
                img_path=img_path, seg_map_path=seg_map_path,
                reduce_zero_label=self.reduce_zero_label, seg_fields=[],
                label_map=self.label_map, num_classes=num_classes))
        return data_list

    def _check_folder(self, folder: str, key: str) -> None:
        if not osp.isdir(folder):
            where = f'data_root="{self.data_root}"' if self.data_root else 'no data_root'
            raise FileNotFoundError(
                f'{type(self).__name__}: folder "{folder}" ({key}, {where}) does not '
                f'exist. Prepare the dataset as described in {PREPARE_DOC}, or set '
                f'data_root / {key} in the config.')

    def _read_split(self) -> List[str]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'Split file (ann_file) "{self.ann_file}" does not exist. '
                f'See {PREPARE_DOC}.')
        with open(self.ann_file, encoding='utf-8') as f:
            stems = [line.strip() for line in f if line.strip()]
        if not stems:
            raise ValueError(f'Split file (ann_file) "{self.ann_file}" is empty: '
                             'expected one image id per line.')
        return stems

    def _scan_images(self, img_dir: str) -> List[str]:
        files = []
        for root, _, names in os.walk(img_dir):
            for name in names:
                if name.endswith(self.img_suffix):
                    files.append(osp.relpath(osp.join(root, name), img_dir))
        if not files:
            raise ValueError(f'No "*{self.img_suffix}" image found under "{img_dir}" '
                             '(ann_file is empty, so every image is used).')
        # sorted by image path (as MMSegmentation), then the suffix is cut off
        return [rel[:-len(self.img_suffix)] for rel in sorted(files)]

    def __getitem__(self, idx: int) -> dict:
        """Run the pipeline on sample ``idx``.

        Args:
            idx (int): sample index.

        Returns:
            dict: the pipeline's output (``inputs`` and ``data_samples``).
        """
        if not self._fully_initialized:
            self.full_init()
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                return data
            if self.test_mode or not self.refetch_on_none:
                info = self.get_data_info(idx)
                raise ValueError(
                    f'The pipeline returned None for sample {idx} '
                    f'({info.get("img_path")}). Fix the sample or the pipeline; set '
                    f'refetch_on_none=True in the dataset config to replace such '
                    'samples by random others (training only).')
            self.num_refetched += 1
            print_log(f'Pipeline returned None for sample {idx} '
                      f'({self.get_data_info(idx).get("img_path")}); fetching another '
                      f'one ({self.num_refetched} refetches so far).',
                      logger='current', level=logging.WARNING)
            idx = self._rand_another()
        raise ValueError(f'No valid sample after {self.max_refetch} refetches: the '
                         'pipeline returns None for every sample tried.')


def class_subset_label_map(base_classes: Optional[Sequence[str]],
                           classes: Optional[Sequence[str]]) -> Optional[Dict[int, int]]:
    """The label map of a class subset: old index -> new index (255 if left out).

    Args:
        base_classes (Sequence[str], optional): the dataset class's own classes.
        classes (Sequence[str], optional): the classes the config asks for.

    Returns:
        dict | None: None when either is missing, when they are equal, or when
        ``classes`` is not a subset of ``base_classes`` (then they are the data's own).
    """
    if not base_classes or not classes or list(classes) == list(base_classes):
        return None
    if not set(classes) <= set(base_classes):
        return None
    classes = list(classes)
    return {old: (classes.index(name) if name in classes else 255)
            for old, name in enumerate(base_classes)}


def _subset_palette(palette: Optional[Sequence], label_map: Dict[int, int]) -> Optional[list]:
    """The palette entries of the kept classes, in their new order."""
    if palette is None or len(palette) < len(label_map):
        return palette
    kept = sorted((new, old) for old, new in label_map.items() if new != 255)
    return type(palette)(palette[old] for _, old in kept)


def _build_transform(transform: Union[dict, Callable]) -> Callable:
    """Build a transform config in fcn_mm's TRANSFORMS (callables pass through)."""
    if isinstance(transform, dict):
        return TRANSFORMS.build(transform)
    if callable(transform):
        return transform
    raise TypeError(f'pipeline entries must be dicts or callables, got {type(transform)}')


@DATASETS.register_module()
class ConcatDataset(_MMEngineConcatDataset):
    """mmengine's ConcatDataset, registered in fcn_mm so ``type='ConcatDataset'``
    resolves within scope ``fcn_mm``; sub-dataset configs are built in fcn_mm's
    DATASETS.

    Args:
        datasets (list[dict | BaseDataset]): datasets to concatenate.
        lazy_init (bool): Defaults to False.
        ignore_keys (str | list[str], optional): metainfo keys that may differ.
    """

    def __init__(self, datasets: Sequence[Union[dict, BaseDataset]],
                 lazy_init: bool = False,
                 ignore_keys: Union[str, List[str], None] = None) -> None:
        if not isinstance(datasets, (list, tuple)) or not datasets:
            raise TypeError('ConcatDataset.datasets must be a non-empty list of '
                            f'dataset configs, got {datasets!r}')
        built = [DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        super().__init__(built, lazy_init=lazy_init, ignore_keys=ignore_keys)
