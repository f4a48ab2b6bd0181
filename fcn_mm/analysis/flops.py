"""FLOPs and parameters of segmentors, counted with ``torch.utils.flop_counter``.

FLOPs are 2 per multiply-add (torch's convention); MACs are half of that. Only
matrix products and convolutions are counted (and their backward passes): the
element-wise work of norms, activations, resizes and losses is left out, which is
how the "fraction of the matmul peak" figures of :mod:`fcn_mm.analysis.benchmark` are
meant.
"""
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fcn_mm.models.builder import build_offline_model
from fcn_mm.utils.config_check import check_config, load_config

__all__ = ['count_flops', 'count_params', 'tensor_path_flops', 'get_model_complexity']


def count_flops(fn: Callable, *args: Any, **kwargs: Any) -> Tuple[Any, int]:
    """Run ``fn(*args, **kwargs)`` once under a FLOP counter.

    Args:
        fn (callable): the step to count (forward, or forward + backward + update).
        *args, **kwargs: its arguments.

    Returns:
        tuple: ``(fn's result, FLOPs)`` with 2 FLOPs per multiply-add.
    """
    with FlopCounterMode(display=False) as counter:
        result = fn(*args, **kwargs)
    return result, int(counter.get_total_flops())


def count_params(module: Optional[nn.Module]) -> int:
    """Number of parameter elements of ``module`` (0 for None)."""
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _tensor_path(model: nn.Module, inputs: torch.Tensor, with_aux: bool) -> None:
    """The segmentor's ``tensor`` path, plus the auxiliary heads when asked."""
    aux = getattr(model, 'auxiliary_head', None)
    if not (with_aux and aux is not None and hasattr(model, 'extract_feat')):
        model(inputs, mode='tensor')
        return
    feats = model.extract_feat(inputs)
    model.decode_head.forward(feats)
    for head in (aux if isinstance(aux, nn.ModuleList) else [aux]):
        head.forward(feats)


def tensor_path_flops(model: nn.Module, shape: Sequence[int], with_aux: bool = False,
                      batch: int = 1) -> int:
    """FLOPs of one inference forward (``mode='tensor'``) on (batch, C, H, W) inputs.

    Args:
        model (nn.Module): a segmentor (any device, ``meta`` included).
        shape (Sequence[int]): (H, W).
        with_aux (bool): also run the auxiliary head(s) on the same features.
        batch (int): images per forward. Defaults to 1.

    Returns:
        int: FLOPs (2 per multiply-add).
    """
    first = next(model.parameters())
    in_channels = _in_channels(model)
    inputs = torch.zeros(batch, in_channels, int(shape[0]), int(shape[1]),
                         device=first.device, dtype=first.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, flops = count_flops(_tensor_path, model, inputs, with_aux)
    finally:
        model.train(was_training)
    return flops


def _in_channels(model: nn.Module) -> int:
    """Image channels the first convolution expects (3 for RGB nets)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return 3


def get_model_complexity(config: Union[str, Config], shape: Sequence[int] = (512, 512),
                         with_aux: bool = False,
                         cfg_options: Optional[dict] = None) -> Dict[str, Any]:
    """Parameters, FLOPs and MACs of a config's model at one input size.

    The model is built on the ``meta`` device (no weights in memory, no compute),
    SyncBN as BN, no pretrained weights; one (1, 3, H, W) image goes through the
    ``tensor`` path (backbone, neck, decode head; the auxiliary heads only when
    ``with_aux``).

    Args:
        config (str | Config): config file or object.
        shape (Sequence[int]): input (H, W). Defaults to (512, 512).
        with_aux (bool): count the auxiliary head(s) too.
        cfg_options (dict, optional): config overrides.

    Returns:
        dict: ``params`` (all parameters, auxiliary heads included, as in a
        checkpoint), ``params_aux`` (those of the auxiliary heads), ``flops``,
        ``gflops``, ``gmacs`` (of one image), ``shape`` (H, W) and ``with_aux``.
    """
    if len(shape) != 2 or not all(int(s) > 0 for s in shape):
        raise ValueError(f'shape must be (H, W) with positive sizes, got {tuple(shape)}')
    cfg = load_config(config, cfg_options)
    check_config(cfg, check_checkpoints=False)
    model = build_offline_model(cfg, device='meta')
    flops = tensor_path_flops(model, shape, with_aux=with_aux)
    return dict(params=count_params(model),
                params_aux=count_params(getattr(model, 'auxiliary_head', None)),
                flops=flops, gflops=flops / 1e9, gmacs=flops / 2e9,
                shape=(int(shape[0]), int(shape[1])), with_aux=bool(with_aux))
