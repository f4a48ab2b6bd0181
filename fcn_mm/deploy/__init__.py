"""Deployment: export the whole-image inference path to ONNX, run it with ONNX Runtime,
quantise it to int8.

Importing this package registers ``ONNXRuntimeSegmentor`` in ``MODELS``; ``onnx`` and
``onnxruntime`` (the ``deploy`` extra) are imported only when a file is exported or run.
"""
from .calibration import *  # noqa: F401,F403
from .float_nodes import *  # noqa: F401,F403
from .inference_graph import *  # noqa: F401,F403
from .int8_check import *  # noqa: F401,F403
from .metadata import *  # noqa: F401,F403
from .onnx_export import *  # noqa: F401,F403
from .ort_segmentor import *  # noqa: F401,F403
from .ort_session import *  # noqa: F401,F403
from .quantize import *  # noqa: F401,F403
from .verify import *  # noqa: F401,F403
