"""formatting transforms (being written)."""
__all__ = []
