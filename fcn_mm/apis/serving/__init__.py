"""Serving (floor 5, beside the rest of apis): a segmentor behind an HTTP service.

``tools/serve.py`` is the command line. The parts, one job each:

- :mod:`.decoding`: request bytes -> (H, W, 3) BGR image, or a clear refusal (4xx);
- :mod:`.responses`: label map -> indexed PNG, overlay PNG or JSON summary;
- :mod:`.batcher`: a bounded queue that groups same-size images into batches for
  inference threads;
- :mod:`.runner`: the model (PyTorch config + checkpoint, or an exported ``.onnx``) and
  its batch prediction;
- :mod:`.metrics`: counters and histograms in the Prometheus text format;
- :mod:`.load`: a bounded load test of a running service (and random weights whose
  labels vary, to check its answers against);
- :mod:`.app`: the ASGI application (Starlette) with ``POST /predict``, ``GET /``,
  ``GET /healthz`` and ``GET /metrics``.

Starlette, uvicorn and python-multipart come with the ``serve`` extra; only :mod:`.app`
imports Starlette.
"""
from .batcher import *  # noqa: F401,F403
from .decoding import *  # noqa: F401,F403
from .load import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .responses import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
