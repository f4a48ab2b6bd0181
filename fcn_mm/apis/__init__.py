"""APIs (floor 5): what tools call.

``init_model`` / ``inference_model`` / ``show_result_pyplot`` (:mod:`.inference`); the
train and test set-up of ``tools/train.py`` and ``tools/test.py`` (:mod:`.training`,
:mod:`.testing`, :mod:`.speed`, :mod:`.distributed`).
"""
from .inference import *  # noqa: F401,F403
