"""IoUMetric (being written)."""
__all__ = []
