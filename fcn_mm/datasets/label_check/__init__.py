"""The label check: masks that train without error but make the metric meaningless.

:func:`check_dataset_labels` reads (a sample of) the masks of a built dataset with PIL,
without palette conversion, and applies the rules of :mod:`.rules` (RGB masks, binary
masks stored as 0/255, labels outside ``[0, num_classes)`` and the ignore index after
``reduce_zero_label`` and ``label_map``, ``reduce_zero_label`` that contradicts the data,
heads whose ``num_classes`` differ from ``len(classes)``, image / mask sizes that differ,
images without masks). It returns a :class:`LabelCheckReport`; what to do with it
(raise :class:`LabelCheckError`, warn) is the caller's (``fcn_mm.apis.label_check``).
:func:`run_label_check` does it for the datasets of a config.
"""
from .check import check_dataset_labels, label_spec_of, leaf_datasets, sample_indices
from .config_datasets import (ALL_DATALOADERS, TRAIN_DATALOADERS, dataset_configs,
                              head_num_classes, run_label_check)
from .findings import ERROR, WARNING, LabelCheckError, LabelCheckReport, LabelFinding
from .mask_stats import MaskStats, read_image_size, read_mask_stats
from .spec import LabelSpec, SampleRecord

__all__ = ['check_dataset_labels', 'label_spec_of', 'leaf_datasets', 'sample_indices',
           'ALL_DATALOADERS', 'TRAIN_DATALOADERS', 'dataset_configs', 'head_num_classes',
           'run_label_check',
           'ERROR', 'WARNING', 'LabelCheckError', 'LabelCheckReport', 'LabelFinding',
           'MaskStats', 'read_image_size', 'read_mask_stats', 'LabelSpec', 'SampleRecord']
