"""CrossEntropyLoss (being written)."""
__all__ = []
