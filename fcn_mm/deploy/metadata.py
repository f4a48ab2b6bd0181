"""What an exported ONNX file says about itself (``metadata_props``, JSON values).

Keys: ``classes``, ``palette``, ``config`` (the config's file name), ``input`` (name,
layout, channel order, value range), ``outputs``, ``mean``/``std`` and
``channel_conversion`` (what the graph does first), ``pad_value`` (raw pixel values
that stand for fcn_mm's padding), ``align_corners``, ``out_channels``, ``threshold``,
``dynamic``, ``fcn_mm_version``, ``precision`` ('float32', or 'int8' for a file
from tools/deployment/quantize.py) and, when quantised, ``quantization`` (how).
"""
import json
from typing import Any, Dict, List, Optional

from torch import nn

from fcn_mm.utils.palette import voc_colormap
from fcn_mm.version import __version__
from .inference_graph import InferenceGraph, raw_pad_value

__all__ = ['build_metadata', 'parse_metadata', 'INPUT_NAME', 'INPUT_CHANNEL_ORDER',
           'PRECISION_KEY', 'QUANTIZATION_KEY']

INPUT_NAME = 'img'
# LoadImageFromFile decodes with mmcv, whose channel order is BGR for cv2 and pillow
INPUT_CHANNEL_ORDER = 'BGR'
PRECISION_KEY = 'precision'
QUANTIZATION_KEY = 'quantization'


def _class_info(segmentor: nn.Module, out_channels: int) -> Dict[str, list]:
    meta = getattr(segmentor, 'dataset_meta', None) or {}
    num_classes = int(getattr(segmentor, 'num_classes', out_channels))
    classes = meta.get('classes')
    classes = [str(c) for c in classes] if classes is not None \
        else [str(i) for i in range(num_classes)]
    palette = meta.get('palette')
    palette = [[int(v) for v in colour] for colour in palette] if palette is not None \
        else voc_colormap(len(classes))
    return dict(classes=classes, palette=palette)


def build_metadata(segmentor: nn.Module, graph: InferenceGraph, *, dynamic: bool,
                   config_name: Optional[str] = None) -> Dict[str, str]:
    """The metadata of an exported segmentor, as ONNX ``metadata_props`` strings.

    Args:
        segmentor (nn.Module): the exported segmentor (``dataset_meta`` gives the
            class names and palette; numbers and the VOC colours when it has none).
        graph (InferenceGraph): its exported wrapper.
        dynamic (bool): whether N, H and W are dynamic.
        config_name (str, optional): the config's file name.

    Returns:
        dict[str, str]: JSON-encoded values.
    """
    values: Dict[str, Any] = _class_info(segmentor, graph.out_channels)
    values.update(
        config=config_name or '',
        input=dict(name=INPUT_NAME, layout='NCHW', dtype='float32',
                   channel_order=INPUT_CHANNEL_ORDER, value_range=[0, 255]),
        outputs=graph.output_names,
        mean=[float(v) for v in graph.mean.reshape(-1)],
        std=[float(v) for v in graph.std.reshape(-1)],
        channel_conversion=graph.channel_conversion,
        pad_value=raw_pad_value(segmentor),
        align_corners=graph.align_corners,
        out_channels=graph.out_channels,
        threshold=graph.threshold,
        dynamic=dynamic,
        fcn_mm_version=__version__,
        precision='float32',
    )
    return {key: (value if isinstance(value, str) else json.dumps(value))
            for key, value in values.items()}


_STRING_KEYS = {'config', 'fcn_mm_version', PRECISION_KEY}


def parse_metadata(props: Dict[str, str]) -> Dict[str, Any]:
    """Decode ``metadata_props`` written by :func:`build_metadata`.

    Args:
        props (dict[str, str]): e.g. ``session.get_modelmeta().custom_metadata_map``.

    Returns:
        dict: the decoded values (unknown keys are kept as strings).

    Raises:
        ValueError: when the file has no fcn_mm metadata (``classes``, ``pad_value``).
    """
    missing: List[str] = [k for k in ('classes', 'pad_value', 'outputs') if k not in props]
    if missing:
        raise ValueError(f'the ONNX file has no fcn_mm metadata {missing}: export it with '
                         'tools/deployment/pytorch2onnx.py')
    decoded: Dict[str, Any] = {}
    for key, value in props.items():
        if key in _STRING_KEYS:
            decoded[key] = value
            continue
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded
