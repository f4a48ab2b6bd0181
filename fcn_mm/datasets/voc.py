"""PascalVOCDataset (being written)."""
__all__ = []
