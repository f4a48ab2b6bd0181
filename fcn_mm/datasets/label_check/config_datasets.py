"""Which datasets of a config the label check reads, and the heads they are compared with.

:func:`run_label_check` builds each dataset of the named dataloaders (``lazy_init``,
wrappers opened, each config once) and checks its masks against ``len(classes)`` and
the ``num_classes`` of every head in ``cfg.model``. It returns the report; what to do
with it is the caller's (``tools/train.py`` through ``fcn_mm.apis.label_check``,
``tools/misc/check_dataset.py``).
"""
import copy
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from fcn_mm.registry import DATASETS
from .check import check_dataset_labels
from .findings import LabelCheckReport

__all__ = ['TRAIN_DATALOADERS', 'ALL_DATALOADERS', 'head_num_classes', 'dataset_configs',
           'run_label_check']

TRAIN_DATALOADERS = ('train_dataloader', 'val_dataloader')
ALL_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def head_num_classes(cfg: Config) -> Dict[str, int]:
    """``num_classes`` of each head in ``cfg.model``, by config key.

    Args:
        cfg (Config): the run's config.

    Returns:
        dict[str, int]: e.g. ``{'model.decode_head.num_classes': 21,
        'model.auxiliary_head.num_classes': 21}`` (heads without the key left out).
    """
    model = cfg.get('model') or {}
    found = {}
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key)
        if isinstance(heads, dict):
            heads = [(f'model.{key}', heads)]
        elif isinstance(heads, (list, tuple)):
            heads = [(f'model.{key}[{i}]', h) for i, h in enumerate(heads)]
        else:
            continue
        for name, head in heads:
            if isinstance(head, dict) and head.get('num_classes') is not None:
                found[f'{name}.num_classes'] = int(head['num_classes'])
    return found


def _leaf_configs(dataset_cfg: dict, name: str) -> Iterator[Tuple[str, dict]]:
    if isinstance(dataset_cfg.get('datasets'), (list, tuple)):
        for i, sub in enumerate(dataset_cfg['datasets']):
            yield from _leaf_configs(sub, f'{name}.datasets[{i}]')
    elif isinstance(dataset_cfg.get('dataset'), dict):
        yield from _leaf_configs(dataset_cfg['dataset'], f'{name}.dataset')
    else:
        yield name, dataset_cfg


def dataset_configs(cfg: Config, dataloaders: Sequence[str] = TRAIN_DATALOADERS
                    ) -> List[Tuple[str, dict]]:
    """The leaf dataset configs of the given dataloaders, each once.

    Wrappers (``ConcatDataset.datasets``, ``RepeatDataset.dataset``) are opened; a
    dataset config equal to one already listed (``test_dataloader = val_dataloader``)
    is left out.

    Args:
        cfg (Config): the run's config.
        dataloaders (Sequence[str]): e.g. ``('train_dataloader', 'val_dataloader')``.

    Returns:
        list[tuple[str, dict]]: config path and config of each dataset.
    """
    found: List[Tuple[str, dict]] = []
    for key in dataloaders:
        loader = cfg.get(key)
        if not isinstance(loader, dict) or not isinstance(loader.get('dataset'), dict):
            continue
        for name, leaf in _leaf_configs(loader['dataset'], f'{key}.dataset'):
            if all(leaf != other for _, other in found):
                found.append((name, leaf))
    return found


def run_label_check(cfg: Config, num_samples: Optional[int] = None,
                    dataloaders: Sequence[str] = TRAIN_DATALOADERS,
                    progress: bool = False, skip_missing_data: bool = False
                    ) -> LabelCheckReport:
    """Build each dataset of ``dataloaders`` (``lazy_init``) and check its masks.

    Args:
        cfg (Config): the run's config (fcn_mm's modules registered).
        num_samples (int, optional): masks per dataset, evenly spaced; None: all.
        dataloaders (Sequence[str]): which dataloaders' datasets.
        progress (bool): progress bars. Defaults to False.
        skip_missing_data (bool): leave out a dataset whose folder, split file or a
            listed image does not exist (the Runner raises the dataset's own error when
            it builds it) instead of raising that error here. Defaults to False.

    Returns:
        LabelCheckReport: every finding of every dataset.
    """
    heads = head_num_classes(cfg)
    report = LabelCheckReport()
    for name, dataset_cfg in dataset_configs(cfg, dataloaders):
        dataset_cfg = copy.deepcopy(dataset_cfg)
        # lazy: the list is built by the check (missing masks reported at once);
        # not serialized: serializing runs gc.collect(), 0.4 s with torch imported
        dataset_cfg.update(lazy_init=True, serialize_data=False)
        dataset = DATASETS.build(dataset_cfg)
        try:
            found = check_dataset_labels(dataset, name, num_samples=num_samples,
                                         head_num_classes=heads, progress=progress)
        except FileNotFoundError:
            if not skip_missing_data:
                raise
            continue
        # the heads are one model: their mismatch is reported once per set of classes
        found.findings = [f for f in found.findings if f.kind != 'num_classes' or not any(
            (g.kind, g.problem, g.found) == (f.kind, f.problem, f.found)
            for g in report.findings)]
        report.merge(found)
    return report
