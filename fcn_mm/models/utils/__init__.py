"""Building blocks shared by models: residual blocks, ResLayer, conv-norm-act helpers,
bilinear transposed convolutions, the build-time check of head input channels and head
building with config paths."""
from .bilinear_upsample import *  # noqa: F401,F403
from .channel_check import *  # noqa: F401,F403
from .conv_norm_act import *  # noqa: F401,F403
from .head_build import *  # noqa: F401,F403
from .res_block import *  # noqa: F401,F403
from .res_layer import *  # noqa: F401,F403
