"""Backbones: ResNet family, VGG and the torchvision wrapper."""
from .resnet import *  # noqa: F401,F403
from .torchvision_backbone import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
