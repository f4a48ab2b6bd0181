"""FCNHead (being written)."""
__all__ = []
