"""SegVisualizationHook (being written)."""
__all__ = []
