"""The fcn_mm version string (one place, read by setup.py and fcn_mm.__version__)."""
__version__ = '0.1.0'
