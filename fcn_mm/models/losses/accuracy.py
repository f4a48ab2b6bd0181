"""accuracy (being written)."""
__all__ = []
