"""Open an ONNX file with ONNX Runtime (imported lazily: fcn_mm imports without it)."""
import os.path as osp
import warnings
from typing import List, Optional

__all__ = ['import_onnxruntime', 'providers_for_device', 'create_session']

INSTALL_HINT = "pip install -e '.[deploy]'"


def import_onnxruntime():
    """``import onnxruntime``, or an ImportError that names the extra to install."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError('running an exported ONNX model needs onnxruntime, which is not '
                          f'installed: {INSTALL_HINT} (the `deploy` extra)') from error
    return onnxruntime


def providers_for_device(device: str) -> List[str]:
    """ONNX Runtime execution providers for a torch-style device string.

    ``'cpu'`` -> CPU; ``'cuda'``/``'cuda:i'`` -> CUDA (then CPU) when this onnxruntime
    build has it, else CPU with a warning.

    Args:
        device (str): e.g. ``'cpu'``, ``'cuda:0'``.

    Returns:
        list[str]: provider names.
    """
    device = str(device)
    if device == 'cpu':
        return ['CPUExecutionProvider']
    if not device.startswith('cuda'):
        raise ValueError(f"device must be 'cpu' or 'cuda[:i]' for ONNX Runtime, got {device!r}")
    available = import_onnxruntime().get_available_providers()
    if 'CUDAExecutionProvider' in available:
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    warnings.warn(f'device {device!r}: this onnxruntime has no CUDAExecutionProvider '
                  f'(available: {available}); running on the CPU (install onnxruntime-gpu '
                  'for CUDA)')
    return ['CPUExecutionProvider']


def create_session(onnx_file: str, providers: Optional[List[str]] = None,
                   num_threads: Optional[int] = None):
    """An ``onnxruntime.InferenceSession`` for ``onnx_file``.

    Args:
        onnx_file (str): the exported model.
        providers (list[str], optional): execution providers; CPU by default.
        num_threads (int, optional): intra-op threads; None lets ONNX Runtime choose.

    Returns:
        onnxruntime.InferenceSession: the session.
    """
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file {onnx_file}: no such file')
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = int(num_threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(onnx_file, sess_options=options,
                                    providers=providers or ['CPUExecutionProvider'])
    except Exception as error:  # onnxruntime raises its own exception types
        raise ValueError(f'ONNX Runtime cannot load {onnx_file}: {error}') from error
