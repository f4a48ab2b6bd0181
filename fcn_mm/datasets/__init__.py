"""Datasets and data transforms.

Importing this package registers every dataset and transform in fcn_mm's registries.
"""
from .ade import *  # noqa: F401,F403
from .basesegdataset import *  # noqa: F401,F403
from .cityscapes import *  # noqa: F401,F403
from .coco_stuff import *  # noqa: F401,F403
from .demo_data import *  # noqa: F401,F403
from .pascal_context import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .voc import *  # noqa: F401,F403
