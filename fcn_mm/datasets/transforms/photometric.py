"""photometric transforms (being written)."""
__all__ = []
