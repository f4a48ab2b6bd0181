"""test_time_aug transforms (being written)."""
__all__ = []
