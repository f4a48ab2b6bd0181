"""BaseSegmentor (being written)."""
__all__ = []
