"""TorchvisionBackbone (being written)."""
__all__ = []
