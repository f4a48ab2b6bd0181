"""loading transforms (being written)."""
__all__ = []
