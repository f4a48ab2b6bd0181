"""init_model, inference_model, show_result_pyplot (being written)."""
__all__ = []
