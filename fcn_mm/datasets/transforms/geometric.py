"""geometric transforms (being written)."""
__all__ = []
