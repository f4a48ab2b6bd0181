"""Post-training static int8 quantisation of an exported graph with ONNX Runtime's quantizer.

Call flow::

    quantize_onnx(fp32_file, out_file, reader, settings)
      -> float_node_names()              nodes before the first Conv (colour flip,
                                         mean/std), the score layers (by module name:
                                         conv_seg; score_fr, score_pool4, score_pool3)
                                         and all computed from them (skip fusion,
                                         upsamplers, resize to (H, W), argmax) stay float32
      -> onnxruntime.quantization.quantize_static(...)
                                         calibrate activation ranges on the reader's
                                         images; QDQ (default) or QOperator format;
                                         weights int8 per output channel, activations uint8
      -> check_int8_graph()              refuse a result in which no weight is quantised
      -> metadata: the float file's, plus ``precision`` = 'int8' and ``quantization``

Why ONNX Runtime and not PyTorch's PT2E flow: see docs/deploy.md ("int8 CPU inference").
"""
import json
import logging
import os
import os.path as osp
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

from .float_nodes import SCORE_LAYERS, float_node_names, score_layer_nodes
from .int8_check import check_int8_graph
from .metadata import PRECISION_KEY, QUANTIZATION_KEY

__all__ = ['QuantizeSettings', 'QuantizeResult', 'quantize_onnx',
           'QUANT_FORMATS', 'CALIBRATE_METHODS']

QUANT_FORMATS = ('QDQ', 'QOperator')
CALIBRATE_METHODS = ('MinMax', 'Entropy', 'Percentile')


@dataclass
class QuantizeSettings:
    """How to quantise.

    Attributes:
        quant_format (str): 'QDQ' (Quantize/DequantizeLinear pairs that ONNX Runtime
            fuses into int8 kernels; the default) or 'QOperator' (QLinearConv ...).
        per_channel (bool): one weight scale per output channel. Defaults to True.
        reduce_range (bool): 7-bit weights (for CPUs without VNNI, where u8 x s8
            products can saturate). Defaults to False.
        calibrate_method (str): 'MinMax' (default), 'Entropy' or 'Percentile'.
        keep_float_ends (bool): leave the nodes before the first Conv (preprocessing),
            the score layers and everything computed from their outputs (fusion,
            upsampling, final resize, argmax) in float32. Defaults to True.
        score_layers (tuple[str]): module names of the score layers, relative to the
            segmentor. Defaults to :data:`~.float_nodes.SCORE_LAYERS`.
        preprocess (bool): run ONNX Runtime's ``quant_pre_process`` (shape inference,
            graph optimisation) first. Defaults to False.
    """
    quant_format: str = 'QDQ'
    per_channel: bool = True
    reduce_range: bool = False
    calibrate_method: str = 'MinMax'
    keep_float_ends: bool = True
    preprocess: bool = False
    score_layers: Tuple[str, ...] = SCORE_LAYERS

    def check(self) -> 'QuantizeSettings':
        """Raise ValueError on an unknown format or calibration method."""
        if self.quant_format not in QUANT_FORMATS:
            raise ValueError(f'quant_format must be one of {QUANT_FORMATS}, got '
                             f'{self.quant_format!r}')
        if self.calibrate_method not in CALIBRATE_METHODS:
            raise ValueError(f'calibrate_method must be one of {CALIBRATE_METHODS}, got '
                             f'{self.calibrate_method!r}')
        if isinstance(self.score_layers, str) or not self.score_layers:
            raise ValueError('score_layers must be a non-empty sequence of module names, '
                             f'got {self.score_layers!r}')
        self.score_layers = tuple(self.score_layers)
        return self


@dataclass
class QuantizeResult:
    """What :func:`quantize_onnx` wrote.

    Attributes:
        path (str): the int8 ONNX file.
        num_calib (int): calibration images used.
        float_nodes (list[str]): nodes kept in float32.
        op_counts (dict[str, int]): node count per op type of the int8 graph.
        metadata (dict[str, str]): the file's ``metadata_props``.
        score_layers (list[str]): the score layers found in the graph (kept float32).
        num_quantized_weights (int): weights stored as integers.
    """
    path: str
    num_calib: int
    float_nodes: List[str] = field(default_factory=list)
    op_counts: Dict[str, int] = field(default_factory=dict)
    metadata: Dict[str, str] = field(default_factory=dict)
    score_layers: List[str] = field(default_factory=list)
    num_quantized_weights: int = 0


def _import_quantization():
    try:
        from onnxruntime import quantization
    except ImportError as error:
        raise ImportError('int8 quantisation needs onnxruntime (the `deploy` extra): '
                          "pip install -e '.[deploy]'") from error
    return quantization


def _set_metadata(model_proto, metadata: Dict[str, str]) -> None:
    kept = [(p.key, p.value) for p in model_proto.metadata_props if p.key not in metadata]
    del model_proto.metadata_props[:]
    for key, value in kept + list(metadata.items()):
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value


def quantize_onnx(fp32_file: str, out_file: str, reader,
                  settings: Optional[QuantizeSettings] = None,
                  extra_metadata: Optional[Dict[str, object]] = None) -> QuantizeResult:
    """Quantise an exported float32 graph to int8 (static, calibrated).

    Args:
        fp32_file (str): a file from :func:`~.onnx_export.export_onnx`.
        out_file (str): the int8 ``.onnx`` file to write.
        reader: an ONNX Runtime calibration data reader (``get_next()`` ->
            ``{'img': (1, 3, H, W) float32}`` or None), e.g.
            :class:`~.calibration.ImageCalibrationReader`.
        settings (QuantizeSettings, optional): defaults: QDQ, per-channel, MinMax.
        extra_metadata (dict, optional): added to the ``quantization`` metadata entry
            (e.g. the calibration split).

    Returns:
        QuantizeResult: the file, the float nodes and the op counts.

    Raises:
        ValueError: ``fp32_file`` is already quantised, has no Conv or none of the
            score layers; or no weight was quantised (``out_file`` is then removed).
    """
    import onnx
    quantization = _import_quantization()
    settings = (settings or QuantizeSettings()).check()
    num_calib = len(reader) if hasattr(reader, '__len__') else -1
    with tempfile.TemporaryDirectory(prefix='fcn_mm_quant_') as tmp:
        source = fp32_file
        if settings.preprocess:
            source = osp.join(tmp, 'preprocessed.onnx')
            quantization.quant_pre_process(fp32_file, source, skip_symbolic_shape=False)
        float_model = onnx.load(source)
        precision = {p.key: p.value for p in float_model.metadata_props}.get(PRECISION_KEY)
        if precision not in (None, 'float32'):
            raise ValueError(f'{fp32_file} is already {precision} (metadata `precision`): '
                             'quantise the float32 export')
        excluded, score_layers = [], []
        if settings.keep_float_ends:
            excluded = float_node_names(float_model, settings.score_layers)
            score_layers = list(score_layer_nodes(float_model, settings.score_layers))
        # quantize_static logs a root WARNING suggesting quant_pre_process (``preprocess``)
        root, level = logging.getLogger(), logging.getLogger().level
        root.setLevel(logging.ERROR)
        try:
            quantization.quantize_static(
                source, out_file, reader,
                quant_format=getattr(quantization.QuantFormat, settings.quant_format),
                per_channel=settings.per_channel, reduce_range=settings.reduce_range,
                activation_type=quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8,
                calibrate_method=getattr(quantization.CalibrationMethod,
                                         settings.calibrate_method),
                nodes_to_exclude=excluded,
                extra_options=dict(ActivationSymmetric=False, WeightSymmetric=True))
        finally:
            root.setLevel(level)
    quantized = onnx.load(out_file)
    try:
        num_weights = check_int8_graph(quantized, out_file)
    except ValueError:
        os.remove(out_file)
        raise
    info = dict(asdict(settings), activation_type='uint8', weight_type='int8',
                num_calib=num_calib, tool='onnxruntime.quantization.quantize_static',
                float_nodes=excluded, float_score_layers=score_layers,
                num_quantized_weights=num_weights)
    info.update(extra_metadata or {})
    _set_metadata(quantized, {PRECISION_KEY: 'int8', QUANTIZATION_KEY: json.dumps(info)})
    onnx.save(quantized, out_file)
    counts: Dict[str, int] = {}
    for node in quantized.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    props = {p.key: p.value for p in quantized.metadata_props}
    return QuantizeResult(out_file, num_calib, excluded, counts, props,
                          score_layers=score_layers, num_quantized_weights=num_weights)
