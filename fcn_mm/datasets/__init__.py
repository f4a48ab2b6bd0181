"""Datasets and data transforms.

Importing this package registers every dataset and transform in fcn_mm's registries.
"""
from .basesegdataset import *  # noqa: F401,F403
from .demo_data import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .voc import *  # noqa: F401,F403
