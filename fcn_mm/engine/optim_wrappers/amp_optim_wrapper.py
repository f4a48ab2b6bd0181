"""AMP optim wrapper for CPU (bf16) and CUDA (fp16) (being written)."""
__all__ = []
