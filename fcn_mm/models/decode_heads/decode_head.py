"""BaseDecodeHead (being written)."""
__all__ = []
