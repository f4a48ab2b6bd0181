"""ResNet, ResNetV1c, ResNetV1d (being written)."""
__all__ = []
