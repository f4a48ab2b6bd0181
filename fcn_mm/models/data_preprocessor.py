"""SegDataPreProcessor (being written)."""
__all__ = []
