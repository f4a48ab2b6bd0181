"""Which nodes of an exported graph stay float32 when it is quantised to int8.

Call flow::

    float_node_names(model_proto, score_layers=SCORE_LAYERS)
      -> nodes before the first Conv             the channel flip and (img - mean) / std
      -> node_modules(node)                      the modules a node comes from: the
                                                 exporter's ``pkg.torch.onnx.name_scopes``
                                                 node metadata (else its weight's name)
      -> the score layers' nodes                 e.g. decode_head.score_fr
      -> every node computed from their outputs  skip fusion, upsamplers, crops, the final
                                                 resize, argmax

A score layer maps features to class scores. Quantised, its output (and every sum or
upsampling of such outputs) would be rounded to 256 levels, which makes ties in the
argmax; in float32 it costs little (1x1 convolutions to a few channels).
"""
import ast
from typing import Dict, List, Sequence, Set

__all__ = ['SCORE_LAYERS', 'node_modules', 'score_layer_nodes', 'float_node_names']

# module names (relative to the segmentor) of the score layers of fcn_mm's heads:
# BaseDecodeHead / FCNHead (the torchvision-FCN configs included) and FCNSkipHead
SCORE_LAYERS = ('decode_head.conv_seg', 'decode_head.score_fr', 'decode_head.score_pool4',
                'decode_head.score_pool3')
# InferenceGraph holds the segmentor under this attribute name
_ROOT = 'segmentor.'
_SCOPES_KEY = 'pkg.torch.onnx.name_scopes'


def node_modules(node, initializers: Set[str] = frozenset()) -> List[str]:
    """The module names (outermost first, relative to the segmentor) a node comes from.

    Read from the exporter's ``pkg.torch.onnx.name_scopes`` node metadata; for a node
    without it, from the names of its weight inputs (``segmentor.<module>.weight``).

    Args:
        node (onnx.NodeProto): a node of an exported graph.
        initializers (set[str]): names of the graph's initializers.

    Returns:
        list[str]: e.g. ``['decode_head', 'decode_head.score_fr']``; empty when unknown.
    """
    props = {p.key: p.value for p in node.metadata_props}
    if _SCOPES_KEY in props:
        try:
            scopes = ast.literal_eval(props[_SCOPES_KEY])
        except (ValueError, SyntaxError):
            scopes = []
        return [s[len(_ROOT):] for s in scopes
                if isinstance(s, str) and s.startswith(_ROOT)]
    names = []
    for name in node.input:
        if name in initializers and name.startswith(_ROOT) and \
                name.rsplit('.', 1)[-1] in ('weight', 'bias'):
            module = name[len(_ROOT):].rsplit('.', 1)[0]
            names += [module] if module not in names else []
    return names


def score_layer_nodes(model_proto, score_layers: Sequence[str] = SCORE_LAYERS
                      ) -> Dict[str, List[str]]:
    """The nodes of each score layer found in the graph.

    Args:
        model_proto (onnx.ModelProto): an exported float32 graph.
        score_layers (Sequence[str]): module names, relative to the segmentor.

    Returns:
        dict[str, list[str]]: score layer -> its node names (layers absent from the
        graph are left out).
    """
    graph = model_proto.graph
    initializers = {t.name for t in graph.initializer}
    wanted = set(score_layers)
    found: Dict[str, List[str]] = {}
    for node in graph.node:
        for module in node_modules(node, initializers):
            if module in wanted:
                found.setdefault(module, []).append(node.name)
                break
    return {name: found[name] for name in score_layers if name in found}


def _downstream(model_proto, start: Set[str]) -> Set[str]:
    """Names of the nodes ``start`` and of every node fed (transitively) by their outputs."""
    consumers: Dict[str, List] = {}
    for node in model_proto.graph.node:
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(node)
    by_name = {node.name: node for node in model_proto.graph.node}
    seen, todo = set(start), [by_name[name] for name in start]
    while todo:
        node = todo.pop()
        for tensor in node.output:
            for consumer in consumers.get(tensor, ()):
                if consumer.name not in seen:
                    seen.add(consumer.name)
                    todo.append(consumer)
    return seen


def float_node_names(model_proto, score_layers: Sequence[str] = SCORE_LAYERS) -> List[str]:
    """Names of the nodes to keep in float32 (graph order).

    The nodes before the first ``Conv`` (channel flip, mean/std normalisation), the
    nodes of the score layers (found by module name, not position: FCN-8s runs
    ``score_fr`` before the skip layers) and every node computed from their outputs
    (the skip fusion and upsampling, the resize to (H, W), the argmax).

    Args:
        model_proto (onnx.ModelProto): the float32 graph from
            :func:`~.onnx_export.export_onnx`.
        score_layers (Sequence[str]): module names of the score layers, relative to the
            segmentor. Defaults to :data:`SCORE_LAYERS`.

    Returns:
        list[str]: node names.

    Raises:
        ValueError: the graph has no Conv, or no node of any of ``score_layers``.
    """
    nodes = list(model_proto.graph.node)
    convs = [i for i, node in enumerate(nodes) if node.op_type == 'Conv']
    if not convs:
        raise ValueError('the ONNX graph has no Conv node: nothing to quantise')
    found = score_layer_nodes(model_proto, score_layers)
    if not found:
        raise ValueError(
            f'no node of the score layers {list(score_layers)} in the ONNX graph (module '
            f"names from the exporter's `{_SCOPES_KEY}` node metadata): export the model "
            'with tools/deployment/pytorch2onnx.py, or name its classifier modules with '
            '--score-layers')
    keep = _downstream(model_proto, {name for names in found.values() for name in names})
    keep.update(node.name for node in nodes[:convs[0]])
    return [node.name for node in nodes if node.name in keep]
