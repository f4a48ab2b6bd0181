"""Analysis (floor 5, independent of :mod:`fcn_mm.apis`): what the analysis tools run.

- :mod:`.benchmark`: timed inference / training steps against the matmul peak;
- :mod:`.flops`: parameters, FLOPs and MACs of a config's model;
- :mod:`.log_plots`: training curves from mmengine's scalar logs;
- :mod:`.confusion_plot`: the confusion-matrix PNG (counted by ``fcn_mm.evaluation``).

Importing this package imports none of them.
"""
