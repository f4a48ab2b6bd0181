"""Data structures shared by every floor of fcn_mm."""
from .seg_data_sample import SegDataSample

__all__ = ['SegDataSample']
