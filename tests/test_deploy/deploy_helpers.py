"""Helpers of the deploy tests: configs, a narrow R50-D8, models with random BN statistics."""
import os.path as osp

import torch
from torch.nn.modules.batchnorm import _BatchNorm

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
R50_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r50-d8_480x480_voc.py')
# R50-D8 at 1/8 width: stages of 32/64/128/256 channels (Bottleneck, dilations 1/1/2/4)
NARROW_R50 = {'model.backbone.stem_channels': 16, 'model.backbone.base_channels': 8,
              'model.decode_head.in_channels': 256, 'model.decode_head.channels': 16,
              'model.auxiliary_head.in_channels': 128, 'model.auxiliary_head.channels': 16}


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BN layer random statistics and affine weights (eval mode uses them)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                shape = module.running_mean.shape
                module.running_mean.copy_((torch.rand(shape, generator=generator) - 0.5) * 0.2)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_((torch.rand(shape, generator=generator) - 0.5) * 0.2)
    return model.eval()


def build_model(config: str, cfg_options=None, seed: int = 0) -> torch.nn.Module:
    from fcn_mm.apis import init_model
    torch.manual_seed(seed)
    return randomize_norms(init_model(config, None, device='cpu', cfg_options=cfg_options),
                           seed)
