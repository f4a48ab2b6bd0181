"""Whether an ONNX graph labelled ``precision: int8`` holds quantised weights.

A weight is quantised when an integer initializer feeds a ``DequantizeLinear`` (QDQ
format) or the weight input of an integer operator (``QLinearConv``, ``ConvInteger``,
... in the QOperator format). A file with the int8 label and no such weight runs every
layer in float32: :func:`check_int8_graph` refuses it.
"""
from typing import List, Optional

__all__ = ['quantized_weight_names', 'check_int8_graph', 'check_int8_file']

# op type -> index of its weight input
_WEIGHT_INPUT = {'DequantizeLinear': 0, 'QLinearConv': 3, 'QLinearMatMul': 3,
                 'ConvInteger': 1, 'MatMulInteger': 1}


def _integer_types() -> set:
    from onnx import TensorProto
    names = ('INT8', 'UINT8', 'INT16', 'UINT16', 'INT4', 'UINT4')
    return {getattr(TensorProto, n) for n in names if hasattr(TensorProto, n)}


def quantized_weight_names(model_proto) -> List[str]:
    """Names of the integer initializers that feed a dequantisation or an integer op.

    Args:
        model_proto (onnx.ModelProto): a graph.

    Returns:
        list[str]: initializer names (graph order of their consumers, no repeats).
    """
    integer = _integer_types()
    initializers = {t.name: t.data_type for t in model_proto.graph.initializer}
    names: List[str] = []
    for node in model_proto.graph.node:
        index = _WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= index:
            continue
        name = node.input[index]
        if initializers.get(name) in integer and name not in names:
            names.append(name)
    return names


def check_int8_graph(model_proto, what: str) -> int:
    """Raise ValueError unless the graph holds at least one quantised weight.

    Args:
        model_proto (onnx.ModelProto): a graph labelled int8.
        what (str): the file, for the message.

    Returns:
        int: the number of quantised weights.
    """
    count = len(quantized_weight_names(model_proto))
    if count == 0:
        raise ValueError(
            f'{what}: labelled precision int8, but no weight in its graph is quantised (no '
            'integer weight feeds a DequantizeLinear or QLinearConv node), so every layer '
            'would run in float32: quantise the float32 export with '
            'tools/deployment/quantize.py')
    return count


def check_int8_file(onnx_file: str, precision: Optional[str]) -> Optional[int]:
    """:func:`check_int8_graph` on a file whose metadata says ``precision``.

    Args:
        onnx_file (str): the ONNX file.
        precision (str, optional): its ``precision`` metadata; nothing is checked (and
            None returned) unless it is 'int8'.

    Returns:
        int | None: the number of quantised weights of an int8 file.
    """
    if precision != 'int8':
        return None
    import onnx
    return check_int8_graph(onnx.load(onnx_file), onnx_file)
