"""Post-training static int8 quantisation of an exported graph with ONNX Runtime's quantizer.

Call flow::

    quantize_onnx(fp32_file, out_file, reader, settings)
      -> float_node_names()              nodes before the first Conv (colour flip,
                                         mean/std) and from the last Conv on (the
                                         classifier, the resize to (H, W), argmax)
                                         stay float32
      -> onnxruntime.quantization.quantize_static(...)
                                         calibrate activation ranges on the reader's
                                         images; QDQ (default) or QOperator format;
                                         weights int8 per output channel, activations uint8
      -> metadata: the float file's, plus ``precision`` = 'int8' and ``quantization``

Why ONNX Runtime and not PyTorch's PT2E flow: see docs/deploy.md ("int8 CPU inference").
"""
import json
import logging
import os.path as osp
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from .metadata import PRECISION_KEY, QUANTIZATION_KEY

__all__ = ['QuantizeSettings', 'QuantizeResult', 'float_node_names', 'quantize_onnx',
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
        keep_float_ends (bool): leave the nodes before the first Conv and from the last
            Conv on in float32 (preprocessing; classifier, final resize, argmax).
            Defaults to True.
        preprocess (bool): run ONNX Runtime's ``quant_pre_process`` (shape inference,
            graph optimisation) first. Defaults to False.
    """
    quant_format: str = 'QDQ'
    per_channel: bool = True
    reduce_range: bool = False
    calibrate_method: str = 'MinMax'
    keep_float_ends: bool = True
    preprocess: bool = False

    def check(self) -> 'QuantizeSettings':
        """Raise ValueError on an unknown format or calibration method."""
        if self.quant_format not in QUANT_FORMATS:
            raise ValueError(f'quant_format must be one of {QUANT_FORMATS}, got '
                             f'{self.quant_format!r}')
        if self.calibrate_method not in CALIBRATE_METHODS:
            raise ValueError(f'calibrate_method must be one of {CALIBRATE_METHODS}, got '
                             f'{self.calibrate_method!r}')
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
    """
    path: str
    num_calib: int
    float_nodes: List[str] = field(default_factory=list)
    op_counts: Dict[str, int] = field(default_factory=dict)
    metadata: Dict[str, str] = field(default_factory=dict)


def float_node_names(model_proto) -> List[str]:
    """Names of the nodes before the first ``Conv`` and from the last one on (graph order).

    The exported graph is topologically sorted: before the first Conv come the
    channel flip and the mean/std normalisation, the last Conv is the classifier
    (``conv_seg``), and after it come the bilinear resize to the input size and the
    argmax. Quantising the logits would round them to 256 levels (ties in the
    argmax), so the classifier runs in float32 on the dequantised features (a 1x1
    convolution: a tiny share of the work), and so do the resize and the argmax.

    Args:
        model_proto (onnx.ModelProto): the float32 graph.

    Returns:
        list[str]: node names.

    Raises:
        ValueError: the graph has no Conv.
    """
    nodes = list(model_proto.graph.node)
    convs = [i for i, node in enumerate(nodes) if node.op_type == 'Conv']
    if not convs:
        raise ValueError('the ONNX graph has no Conv node: nothing to quantise')
    return [node.name for i, node in enumerate(nodes) if i < convs[0] or i >= convs[-1]]


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
        ValueError: ``fp32_file`` is already quantised, or has no Conv.
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
        excluded = float_node_names(float_model) if settings.keep_float_ends else []
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
    info = dict(asdict(settings), activation_type='uint8', weight_type='int8',
                num_calib=num_calib, tool='onnxruntime.quantization.quantize_static',
                float_nodes=excluded)
    info.update(extra_metadata or {})
    _set_metadata(quantized, {PRECISION_KEY: 'int8', QUANTIZATION_KEY: json.dumps(info)})
    onnx.save(quantized, out_file)
    counts: Dict[str, int] = {}
    for node in quantized.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    props = {p.key: p.value for p in quantized.metadata_props}
    return QuantizeResult(out_file, num_calib, excluded, counts, props)
