"""The label check before training: its settings, and what happens with the findings.

``tools/train.py`` calls :func:`label_check_before_training` after the demo data is
prepared: it checks ``label_check.num_samples`` masks (evenly spaced) of the train and
val datasets, logs the warnings and raises :class:`~fcn_mm.datasets.label_check.
LabelCheckError` when a finding makes training or the metric meaningless. It prints
nothing when the masks are fine. ``tools/misc/check_dataset.py CONFIG`` checks every
mask with :func:`~fcn_mm.datasets.label_check.run_label_check`. The config key::

    label_check = dict(enabled=True, num_samples=50)

(``enabled=False`` skips the check; ``num_samples=None`` checks every mask.)
"""
import logging
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

from fcn_mm.datasets.label_check import (ALL_DATALOADERS, TRAIN_DATALOADERS,
                                         LabelCheckError, LabelCheckReport, dataset_configs,
                                         head_num_classes, run_label_check)

__all__ = ['LABEL_CHECK_DEFAULTS', 'TRAIN_DATALOADERS', 'ALL_DATALOADERS',
           'head_num_classes', 'dataset_configs', 'run_label_check', 'label_check_settings',
           'label_check_before_training', 'raise_or_warn']

LABEL_CHECK_DEFAULTS = dict(enabled=True, num_samples=50)


def label_check_settings(cfg: Config) -> dict:
    """``cfg.label_check`` over :data:`LABEL_CHECK_DEFAULTS`, checked.

    Raises:
        KeyError: an unknown key in ``label_check``.
        ValueError: ``num_samples`` that is not a positive int or None.
    """
    given = cfg.get('label_check') or {}
    unknown = sorted(set(given) - set(LABEL_CHECK_DEFAULTS))
    if unknown:
        raise KeyError(f'label_check: unknown key(s) {unknown}; expected '
                       f'{sorted(LABEL_CHECK_DEFAULTS)} (e.g. label_check = '
                       'dict(enabled=True, num_samples=50))')
    settings = {**LABEL_CHECK_DEFAULTS, **given}
    num = settings['num_samples']
    if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 1):
        raise ValueError(f'label_check.num_samples must be a positive int or None (every '
                         f'mask), got {num!r}')
    return settings


def raise_or_warn(report: LabelCheckReport) -> None:
    """Raise :class:`LabelCheckError` if the report has errors, else log its warnings."""
    if report.errors:
        raise LabelCheckError(report)
    for finding in report.warnings:
        print_log(f'Label check: {finding}', logger='current', level=logging.WARNING)


def label_check_before_training(cfg: Config) -> Optional[LabelCheckReport]:
    """Check a sample of the train and val masks; silent when they are fine.

    Args:
        cfg (Config): the run's config, after the demo data is prepared.

    Returns:
        LabelCheckReport | None: None when ``label_check.enabled`` is False.

    Raises:
        LabelCheckError: a finding that makes training or the metric meaningless.
    """
    settings = label_check_settings(cfg)
    if not settings['enabled']:
        return None
    # a dataset that is not there at all is left to the Runner, which names it when it
    # builds the dataset (as before the check): the check is about the masks
    report = run_label_check(cfg, settings['num_samples'], TRAIN_DATALOADERS,
                             skip_missing_data=True)
    raise_or_warn(report)
    return report
