"""Every decision that depends on the device (CUDA or CPU) is made here, once.

Other modules ask these functions instead of branching on
``torch.cuda.is_available()`` themselves.
"""
from dataclasses import dataclass
from typing import Optional

import torch


def default_device() -> str:
    """Return ``'cuda'`` when a CUDA device is usable, else ``'cpu'``."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


@dataclass(frozen=True)
class AmpPolicy:
    """How mixed precision runs on one device.

    Attributes:
        device_type (str): ``'cuda'`` or ``'cpu'`` (for ``torch.autocast``).
        dtype (torch.dtype): the autocast dtype (fp16 on CUDA, bf16 on CPU).
        use_loss_scaling (bool): whether a gradient scaler is needed (fp16 only).
    """
    device_type: str
    dtype: torch.dtype
    use_loss_scaling: bool


def amp_policy(device: Optional[str] = None) -> AmpPolicy:
    """AMP settings for ``device`` (default: :func:`default_device`).

    CUDA: fp16 autocast with loss scaling. CPU: bf16 autocast without a scaler.
    """
    device_type = torch.device(device or default_device()).type
    if device_type == 'cuda':
        return AmpPolicy('cuda', torch.float16, True)
    return AmpPolicy('cpu', torch.bfloat16, False)


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def dist_backend(configured: Optional[str] = None) -> str:
    """The torch.distributed backend to use: nccl on CUDA, gloo on CPU.

    Args:
        configured (str, optional): the backend the config asks for. ``nccl`` without
            CUDA is replaced by ``gloo`` (the caller warns).
    """
    if torch.cuda.is_available():
        return configured or 'nccl'
    return 'gloo'


def syncbn_supported() -> bool:
    """SyncBatchNorm needs CUDA and an initialised process group of size > 1."""
    import torch.distributed as dist
    return (torch.cuda.is_available() and dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1)

