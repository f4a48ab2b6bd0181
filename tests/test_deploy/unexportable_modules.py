"""Backbones that cannot be exported to ONNX, for the failure tests.

Registered in fcn_mm's MODELS when imported (a config names them with
``custom_imports=dict(imports=['unexportable_modules'])``).
"""
import torch
from torch import nn

from fcn_mm.registry import MODELS


@torch.library.custom_op('fcn_mm_deploy_test::shift', mutates_args=())
def shift(x: torch.Tensor) -> torch.Tensor:
    """A compiled-extension-like operator: torch.onnx has no translation for it."""
    return x + 1


@shift.register_fake
def _shift_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class DataDependentGate(nn.Module):
    """Python control flow on a tensor value: torch.export cannot trace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.mean()) > 0:
            return x * 2
        return x


class CustomOpShift(nn.Module):
    """Calls an operator without an ONNX translation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shift(x)


@MODELS.register_module()
class UnexportableBackbone(nn.Module):
    """3 -> 8 channels at stride 8, then a block that cannot be exported.

    Args:
        kind (str): 'data_dependent' or 'custom_op'.
    """

    def __init__(self, kind: str = 'data_dependent'):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=8, padding=1)
        block = DataDependentGate() if kind == 'data_dependent' else CustomOpShift()
        self.stages = nn.Sequential(nn.ReLU(), block)
        self.out_channels = (8,)

    def forward(self, x: torch.Tensor):
        return (self.stages(self.stem(x)),)


def unexportable_config(repo: str, kind: str) -> str:
    """Config text: the demo config with an :class:`UnexportableBackbone`."""
    return f'''
_base_ = ['{repo}/configs/fcn/fcn_r18-d8_demo.py']
custom_imports = dict(imports=['unexportable_modules'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='UnexportableBackbone', kind='{kind}'),
    decode_head=dict(in_channels=8, in_index=0, channels=8, num_convs=1,
                     concat_input=False),
    auxiliary_head=None)
'''
