"""``--cfg-options`` values with dicts in them, parsed safely.

mmengine's ``DictAction`` splits ``key=value`` pairs and turns numbers, booleans,
``None`` and bracketed lists into Python values, but leaves ``dict(...)`` as text
(``visualizer.vis_backends=[dict(type='TensorboardVisBackend')]`` becomes a list holding
the string ``"dict(type='TensorboardVisBackend')"``) and loops forever on a ``dict(...)``
with two keywords. Here such values are read with :mod:`ast` and only Python literals
are accepted: numbers, strings, ``True``/``False``/``None``, lists, tuples, ``{...}``
dicts and ``dict(key=literal, ...)`` calls. Nothing is evaluated.

- :class:`CfgOptionsAction`: the ``--cfg-options`` action of fcn_mm's tools
  (mmengine's ``DictAction`` for everything without a dict);
- :func:`resolve_cfg_options`: what :func:`~fcn_mm.utils.config_check.load_config`
  applies to any ``cfg_options`` (so options parsed by mmengine's ``DictAction`` or
  written by hand as text work as well).
"""
import ast
import re
from argparse import ArgumentParser, Namespace
from typing import Any, Dict, Optional, Sequence, Union

from mmengine.config import DictAction

__all__ = ['CfgOptionsAction', 'parse_option_value', 'resolve_cfg_options']

_STRUCTURED = re.compile(r'(^|[\[(,{\s])dict\s*\(|^\s*\{')


def _has_dict(text: str) -> bool:
    """Whether ``text`` holds a ``dict(...)`` call or starts with ``{``."""
    return bool(_STRUCTURED.search(text))


def _literal(node: ast.AST, key: str, text: str) -> Any:
    """The value of a literal expression node; anything else is a ValueError."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.List):
        return [_literal(item, key, text) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item, key, text) for item in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k, key, text): _literal(v, key, text)
                for k, v in zip(node.keys, node.values)}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and not node.args
            and all(kw.arg is not None for kw in node.keywords)):
        return {kw.arg: _literal(kw.value, key, text) for kw in node.keywords}
    hint = ''
    if isinstance(node, ast.Name):
        hint = f" (a bare name: quote it, e.g. type='{node.id}')"
    raise ValueError(
        f'--cfg-options {key}={text}: `{ast.unparse(node)}` is not a literal{hint}. '
        'Values may hold numbers, strings, True/False/None, lists, tuples, {...} and '
        "dict(key=value, ...) with literal values, e.g. "
        "visualizer.vis_backends=\"[dict(type='LocalVisBackend'), "
        "dict(type='TensorboardVisBackend')]\"")


def parse_option_value(text: str, key: str = '<key>') -> Any:
    """Parse one ``--cfg-options`` value that holds ``dict(...)`` or ``{...}``.

    Args:
        text (str): the value as typed, e.g. ``"[dict(type='TensorboardVisBackend')]"``.
        key (str): the option's key, for the error message.

    Returns:
        Any: the Python value (dicts for ``dict(...)``).

    Raises:
        ValueError: ``text`` is not a Python expression of literals.
    """
    try:
        tree = ast.parse(text.strip(), mode='eval')
    except SyntaxError as e:
        raise ValueError(f'--cfg-options {key}={text}: not a valid Python value '
                         f'({e.msg} at column {e.offset}); quote the whole value for '
                         'the shell, e.g. '
                         f"{key}=\"[dict(type='TensorboardVisBackend')]\"") from e
    return _literal(tree.body, key, text)


def _resolve(value: Any, key: str) -> Any:
    if isinstance(value, str) and _has_dict(value):
        return parse_option_value(value, key)
    if isinstance(value, list):
        return [_resolve(item, key) for item in value]
    if isinstance(value, tuple):
        return tuple(_resolve(item, key) for item in value)
    return value


def resolve_cfg_options(options: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Turn the ``dict(...)`` texts left by mmengine's ``DictAction`` into dicts.

    Args:
        options (dict, optional): ``{'a.b': value}`` overrides; values (or list/tuple
            items) that are strings holding ``dict(...)`` or starting with ``{`` are
            parsed with :func:`parse_option_value`; everything else is kept.

    Returns:
        dict | None: a new dict (``options`` itself is not changed), or None.
    """
    if options is None:
        return None
    return {key: _resolve(value, key) for key, value in options.items()}


class CfgOptionsAction(DictAction):
    """``--cfg-options`` action: mmengine's ``DictAction``, plus safe dict values.

    A value holding ``dict(...)`` or ``{...}`` is parsed whole by
    :func:`parse_option_value` (literals only); any other value as mmengine does
    (``a=1``, ``b=[x,y]``, ``c=(1,2)``). Repeated flags add up, as with ``DictAction``.
    """

    def __call__(self, parser: ArgumentParser, namespace: Namespace,
                 values: Union[str, Sequence[Any], None],
                 option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in [values] if isinstance(values, str) else (values or []):
            if '=' not in item:
                parser.error(f'{option_string or "--cfg-options"}: {item!r} is not '
                             'key=value')
            key, text = item.split('=', maxsplit=1)
            if _has_dict(text):
                try:
                    options[key] = parse_option_value(text, key)
                except ValueError as e:
                    parser.error(str(e))
            else:
                options[key] = self._parse_iterable(text)
        setattr(namespace, self.dest, options)
