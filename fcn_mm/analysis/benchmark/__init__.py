"""Benchmark: timed inference and training steps, the matmul peak, and their report.

:func:`~.run.run_benchmark` drives ``tools/analysis_tools/benchmark.py``,
:func:`~.sweep.run_sweep` its ``--sweep`` (cost against image size and batch) and
:func:`~.backends.run_backend_comparison` its ``--backend onnxruntime`` (PyTorch beside
ONNX Runtime float32 / int8); each mode, point or row runs in
``python -m fcn_mm.analysis.benchmark.worker``. FLOPs are counted by
:mod:`fcn_mm.analysis.flops`, the speed options are :mod:`fcn_mm.utils.speed_options`.
"""
from .backends import *  # noqa: F401,F403
from .measure import *  # noqa: F401,F403
from .ort_measure import *  # noqa: F401,F403
from .peak import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403
from .run import *  # noqa: F401,F403
from .sweep import *  # noqa: F401,F403
from .sweep_report import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
