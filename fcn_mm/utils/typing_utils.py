"""Type aliases shared across fcn_mm (config dicts, sample lists)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.config import ConfigDict
from torch import Tensor

from fcn_mm.structures import SegDataSample

ConfigType = Union[ConfigDict, dict]
OptConfigType = Optional[ConfigType]
MultiConfig = Union[ConfigType, Sequence[ConfigType]]
OptMultiConfig = Optional[MultiConfig]

SampleList = Sequence[SegDataSample]
OptSampleList = Optional[SampleList]
TensorDict = Dict[str, Tensor]
TensorList = List[Tensor]
ForwardResults = Union[Dict[str, Tensor], List[SegDataSample], Tuple[Tensor], Tensor]
