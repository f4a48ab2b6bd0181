"""SegTTAModel (being written)."""
__all__ = []
