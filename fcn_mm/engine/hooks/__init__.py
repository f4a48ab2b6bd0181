"""Hooks."""
from .checkpoint_hook import *  # noqa: F401,F403
from .prediction_save_hook import *  # noqa: F401,F403
from .preemption_hook import *  # noqa: F401,F403
from .progress_bar_hook import *  # noqa: F401,F403
from .train_progress_hook import *  # noqa: F401,F403
from .visualization_hook import *  # noqa: F401,F403
