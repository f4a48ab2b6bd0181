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


BF16_MARGIN = 1.15  # bf16 is chosen where the probe measures it at least this much faster


@dataclass(frozen=True)
class Bf16Decision:
    """Whether CPU autocast runs in bf16, and why.

    Attributes:
        use_bf16 (bool): bf16 autocast (True) or float32 without autocast.
        ratio (float, optional): bf16's measured speed-up over float32 (None: not
            measured, e.g. no native bf16 or forced).
        reason (str): one line for the log (for float32, it names the setting
            that forces bf16).
    """
    use_bf16: bool
    ratio: Optional[float]
    reason: str


def cpu_bf16_decision(training: bool, force_hint: str,
                      margin: float = BF16_MARGIN) -> Bf16Decision:
    """Decide bf16 or float32 for CPU autocast: bf16 only where it is measurably faster.

    Without native bf16 (AVX512-BF16 or AMX) the answer is float32 without measuring;
    with it, :func:`fcn_mm.utils.bf16_probe.bf16_speedup` (cached per CPU model,
    threads, torch version and mode) must show bf16 at least ``margin`` times faster.

    Args:
        training (bool): decide for training (forward + backward) or inference.
        force_hint (str): the config setting that forces bf16, named in the reason
            (e.g. ``"optim_wrapper.dtype='bfloat16'"``).
        margin (float): the speed-up bf16 needs. Defaults to :data:`BF16_MARGIN`.

    Returns:
        Bf16Decision: the choice, the measured ratio and a one-line reason.
    """
    from .bf16_probe import bf16_speedup, cpu_model_name
    threads = torch.get_num_threads()
    where = f'{cpu_model_name()}, {threads} threads'
    if not cpu_supports_bf16():
        return Bf16Decision(False, None, (
            f'float32 without autocast: this CPU ({where}) has no native bf16 '
            f'(AVX512-BF16 or AMX), where bf16 is emulated and slower; force bf16 with '
            f'{force_hint}'))
    probe = bf16_speedup(training)
    ratio = float(probe['ratio'])
    kind = 'forward+backward' if training else 'forward'
    measured = (f'bf16 autocast ran the probe convolutions ({kind}) at {ratio:.2f}x the '
                f"float32 speed on this CPU ({where}"
                f"{'; measured on a loaded machine, not cached' if probe.get('loaded') else ''})")
    if ratio >= margin:
        return Bf16Decision(True, ratio, measured)
    return Bf16Decision(False, ratio, (
        f'float32 without autocast: {measured}, below the {margin:.2f}x margin; force '
        f'bf16 with {force_hint}'))


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

