"""Export a segmentor's whole-image inference path (:class:`InferenceGraph`) to ONNX.

Call flow::

    export_onnx(segmentor, out_file, shape, dynamic, opset, with_argmax)
      -> InferenceGraph(segmentor)                          the module to export
      -> torch.export.export(..., strict=False)             capture (step 1); a failure
                                                            names the running module
      -> torch.onnx.export(exported_program, dynamo=True)   translate to ONNX (step 2); a
                                                            failure names the operator and
                                                            the module it comes from
      -> dims renamed N/H/W, metadata, onnx.checker, save

The exporter is torch.onnx's torch.export-based (dynamo) one: the default of PyTorch
>= 2.9 (the TorchScript exporter is deprecated). Its symbolic shapes keep the
ceil-mode feature sizes and the final bilinear resize to (H, W) exact for every size.
Dynamic dims use ``Dim.DYNAMIC``: named ranges are refused for ConvNeXt, whose guards
(``96 * (W // 4) != 1``) torch cannot prove over a range.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .inference_graph import InferenceGraph
from .metadata import INPUT_NAME, build_metadata
from .module_tracker import ModuleTracker, describe_module

__all__ = ['ExportError', 'ExportResult', 'export_onnx', 'DEFAULT_OPSET']

DEFAULT_OPSET = 18
_DIM_NAMES = {0: 'N', 2: 'H', 3: 'W'}


class ExportError(RuntimeError):
    """A model that cannot be exported; the message names the module (and operator)."""


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path (str): the ONNX file.
        input_shape (list): (N, 3, H, W): ints, or 'N'/'H'/'W' where dynamic.
        outputs (list[str]): output names.
        opset (int): ONNX opset of the default domain.
        metadata (dict[str, str]): the file's ``metadata_props``.
    """
    path: str
    input_shape: List
    outputs: List[str]
    opset: int
    metadata: Dict[str, str] = field(default_factory=dict)


def _first_line(error: BaseException) -> str:
    """The gist of a (long, multi-paragraph) torch error."""
    text = ' '.join(str(error).split())
    summary = re.search(r'Exception summary (.*?)(?: \(Refer to|$)', text)
    text = summary.group(1) if summary else text
    sentence = re.match(r'(.{20,300}?[.!])(?:\s|$)', text)
    if sentence:
        return sentence.group(1)
    return text[:300] + (' ...' if len(text) > 300 else '')


def _error_chain(error: BaseException) -> str:
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(f'{type(error).__name__}: {error}')
        error = error.__cause__ or error.__context__
    return '\n'.join(parts)


def _capture(graph: InferenceGraph, example: torch.Tensor, dynamic: bool,
             what: str) -> torch.export.ExportedProgram:
    """torch.export the graph; on failure raise ExportError naming the running module."""
    dims = torch.export.Dim.DYNAMIC
    dynamic_shapes = {INPUT_NAME: {0: dims, 2: dims, 3: dims}} if dynamic else None
    tracker = ModuleTracker(graph.segmentor)
    try:
        with torch.no_grad(), tracker.track():
            return torch.export.export(graph, (example,), dynamic_shapes=dynamic_shapes,
                                       strict=False)
    except Exception as error:
        if tracker.failed is not None:
            where = f'module {describe_module(graph.segmentor, tracker.failed)}'
        else:
            where = 'the input normalisation or the final resize'
        hint = ('; a dynamic export needs shape arithmetic torch can follow: drop --dynamic '
                'to export one shape' if dynamic and 'onstraint' in str(error) else '')
        raise ExportError(f'cannot export {what} to ONNX: torch.export fails in {where}: '
                          f'{_first_line(error)} (Python branches on tensor values, '
                          '.item() or numpy inside forward cannot be traced: rewrite them '
                          f'with tensor ops){hint}') from error


def _node_module(node: torch.fx.Node) -> Optional[str]:
    stack = node.meta.get('nn_module_stack') or {}
    if not stack:
        return None
    path, cls = list(stack.values())[-1]
    path = re.sub(r'^segmentor\.?', '', str(path))
    cls_name = cls.__name__ if isinstance(cls, type) else str(cls).rsplit('.', 1)[-1]
    return f'{path or "<the whole model>"} ({cls_name})'


def _failing_operator(program: torch.export.ExportedProgram,
                      error: BaseException) -> Tuple[Optional[str], Optional[str]]:
    """(operator, module) of the graph node that an ONNX translation error names."""
    text = _error_chain(error)
    for node in program.graph.nodes:
        if node.op != 'call_function':
            continue
        name = str(node.target)
        if re.search(rf'(?<![\w.]){re.escape(name)}(?![\w])', text) or \
                f'target={name}' in text or f"op='{name.rsplit('.', 1)[0]}'" in text:
            return name, _node_module(node)
    return None, None


def _translate(program: torch.export.ExportedProgram, example: torch.Tensor,
               output_names: Sequence[str], opset: int, what: str):
    try:
        return torch.onnx.export(program, (example,), input_names=[INPUT_NAME],
                                 output_names=list(output_names), opset_version=opset,
                                 dynamo=True, external_data=False, optimize=True,
                                 verbose=False)
    except Exception as error:
        operator, module = _failing_operator(program, error)
        if operator is None:
            raise ExportError(f'cannot export {what} to ONNX (opset {opset}): '
                              f'{_first_line(error)}') from error
        raise ExportError(
            f'cannot export {what} to ONNX: operator {operator} of module {module} has no '
            f'ONNX translation (opset {opset}); replace the module or register a '
            'translation (torch.onnx.export custom_translation_table)') from error


def _rename_dims(model_proto, symbols: Dict[str, str]) -> None:
    """Rename the exporter's dim symbols (``s23``) to N/H/W in every shape of the graph."""
    if not symbols:
        return
    pattern = re.compile(r'\b(' + '|'.join(map(re.escape, symbols)) + r')\b')
    graph = model_proto.graph
    for value in list(graph.input) + list(graph.output) + list(graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField('dim_param'):
                dim.dim_param = pattern.sub(lambda m: symbols[m.group(1)], dim.dim_param)


def _input_symbols(model_proto) -> Dict[str, str]:
    dims = model_proto.graph.input[0].type.tensor_type.shape.dim
    return {dims[i].dim_param: name for i, name in _DIM_NAMES.items()
            if dims[i].HasField('dim_param')}


def _set_metadata(model_proto, metadata: Dict[str, str]) -> None:
    """Add (or replace) ``metadata_props`` entries, keeping the exporter's own."""
    kept = [(p.key, p.value) for p in model_proto.metadata_props if p.key not in metadata]
    del model_proto.metadata_props[:]
    for key, value in kept + list(metadata.items()):
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value


def _import_onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError("exporting to ONNX needs the `onnx` package: pip install -e "
                          "'.[deploy]'") from error
    return onnx


def export_onnx(segmentor: nn.Module, out_file: str, *, shape: Tuple[int, int] = (512, 512),
                batch_size: int = 1, dynamic: bool = False, opset: int = DEFAULT_OPSET,
                with_argmax: bool = False, config_name: Optional[str] = None) -> ExportResult:
    """Export the whole-image inference path of ``segmentor`` to one ONNX file.

    Args:
        segmentor (nn.Module): an ``EncoderDecoder`` (e.g. from ``init_model``); put in
            eval mode.
        out_file (str): the ``.onnx`` file to write.
        shape (tuple[int, int]): (H, W) of the input: the static shape, or the example
            size of a dynamic export.
        batch_size (int): N of a static export. Defaults to 1.
        dynamic (bool): make N, H and W dynamic. Defaults to False.
        opset (int): ONNX opset. Defaults to :data:`DEFAULT_OPSET`.
        with_argmax (bool): add the ``labels`` output. Defaults to False.
        config_name (str, optional): stored in the metadata.

    Returns:
        ExportResult: the file, its input shape, outputs, opset and metadata.

    Raises:
        ExportError: a module or operator cannot be exported (it is named).
    """
    onnx = _import_onnx()
    height, width = (int(s) for s in shape)
    if height < 1 or width < 1 or batch_size < 1:
        raise ValueError(f'export shape must be positive, got N={batch_size}, '
                         f'(H, W)={tuple(shape)}')
    what = config_name or type(segmentor).__name__
    segmentor.eval()
    graph = InferenceGraph(segmentor, with_argmax=with_argmax).eval()
    device = next(iter(segmentor.parameters()), torch.empty(0)).device
    generator = torch.Generator().manual_seed(0)
    # a batch of 2 for a dynamic export: torch specialises dims that are 1 in the example
    example = (torch.rand((2 if dynamic else batch_size, 3, height, width),
                          generator=generator) * 255).to(device)
    program = _capture(graph, example, dynamic, what)
    onnx_program = _translate(program, example, graph.output_names, opset, what)
    model_proto = onnx_program.model_proto
    if dynamic:
        _rename_dims(model_proto, _input_symbols(model_proto))
    metadata = build_metadata(segmentor, graph, dynamic=dynamic, config_name=config_name)
    _set_metadata(model_proto, metadata)
    model_proto.producer_name = 'fcn_mm'
    onnx.checker.check_model(model_proto)
    onnx.save(model_proto, out_file)
    dims = model_proto.graph.input[0].type.tensor_type.shape.dim
    input_shape = [d.dim_param if d.HasField('dim_param') else d.dim_value for d in dims]
    default_opset = next(o.version for o in model_proto.opset_import if o.domain == '')
    return ExportResult(out_file, input_shape, graph.output_names, default_opset, metadata)
