"""EncoderDecoder (being written)."""
__all__ = []
