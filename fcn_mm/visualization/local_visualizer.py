"""SegLocalVisualizer (being written)."""
__all__ = []
