"""Benchmark: timed inference and training steps, the matmul peak, and their report.

:func:`~.run.run_benchmark` drives ``tools/analysis_tools/benchmark.py``, and
:func:`~.sweep.run_sweep` its ``--sweep`` (cost against image size and batch); each mode
or point runs in ``python -m fcn_mm.analysis.benchmark.worker``. FLOPs are counted by
:mod:`fcn_mm.analysis.flops`, the speed options are :mod:`fcn_mm.utils.speed_options`.
"""
from .measure import *  # noqa: F401,F403
from .peak import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403
from .run import *  # noqa: F401,F403
from .sweep import *  # noqa: F401,F403
from .sweep_report import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
