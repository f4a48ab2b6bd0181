"""BaseSegDataset (being written)."""
__all__ = []
