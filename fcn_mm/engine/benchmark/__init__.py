"""Benchmark tools: speed options, FLOP counting, the matmul peak and timed runs.

``fcn_mm.utils.speed_options`` (re-exported here) is what train.py / test.py use; ``run`` drives
``tools/analysis_tools/benchmark.py``; ``flops`` drives ``get_flops.py``.
"""
from fcn_mm.utils.speed_options import *  # noqa: F401,F403

from .flops import *  # noqa: F401,F403
from .measure import *  # noqa: F401,F403
from .model_build import *  # noqa: F401,F403
from .peak import *  # noqa: F401,F403
from .report import *  # noqa: F401,F403
from .run import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
