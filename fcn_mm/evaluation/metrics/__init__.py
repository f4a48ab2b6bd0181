"""Metrics."""
from .iou_metric import *  # noqa: F401,F403
