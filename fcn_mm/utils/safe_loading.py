"""Checkpoint-loading allow-list for ``torch.load(weights_only=True)``.

(Being written in the foundation work: numpy and message-hub types.)
"""
