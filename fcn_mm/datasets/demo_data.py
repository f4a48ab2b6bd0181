"""Deterministic generator of the demo dataset in the VOC layout (being written)."""
__all__ = []
