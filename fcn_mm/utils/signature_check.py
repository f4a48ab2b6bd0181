"""Which keyword arguments a registered class (or function) accepts.

Used by :mod:`fcn_mm.utils.config_check` to catch misspelt config keys before
anything is built. The answer errs on the side of accepting: ``None`` means "cannot
tell, accept anything".
"""
import ast
import difflib
import functools
import inspect
import textwrap
from typing import Any, Iterable, List, Optional, Set

import torch.nn as nn

__all__ = ['accepted_keywords', 'close_names']

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def close_names(name: str, candidates: Iterable[str], n: int = 3) -> List[str]:
    """Up to ``n`` candidates close to ``name`` (case-insensitive ``difflib``).

    Args:
        name (str): the misspelt name.
        candidates (Iterable[str]): the valid names.
        n (int): at most this many suggestions. Defaults to 3.

    Returns:
        list[str]: the suggestions, best first, spelt as in ``candidates``.
    """
    by_lower = {}
    for cand in candidates:
        by_lower.setdefault(str(cand).lower(), str(cand))
    found = difflib.get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[f] for f in found]


def _signature(func: Any) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=None)
def _only_forwards_to_init(func: Any, varkw: str) -> bool:
    """Whether ``**varkw`` is used only as ``**varkw`` in ``....__init__(...)`` calls.

    Args:
        func: an ``__init__`` function.
        varkw (str): the name of its ``**kwargs`` parameter.

    Returns:
        bool: True when every use of ``varkw`` is such a forward (and there is one).
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    uses = [node for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == varkw]
    forwards = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == '__init__'):
            forwards += [kw.value for kw in node.keywords
                         if kw.arg is None and isinstance(kw.value, ast.Name)
                         and kw.value.id == varkw]
    return bool(forwards) and len(forwards) == len(uses)


def _class_keywords(cls: type) -> Optional[Set[str]]:
    """Keywords of ``cls(...)``, following ``**kwargs`` forwarded to parents."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        if klass in (object, nn.Module):
            return names
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        sig = _signature(init)
        if sig is None:
            return None
        params = list(sig.parameters.values())[1:]  # drop self
        names |= {p.name for p in params if p.kind in _NAMED}
        varkw = [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
        if not varkw:
            return names
        if not _only_forwards_to_init(init, varkw[0]):
            return None
    return names


def accepted_keywords(obj: Any) -> Optional[Set[str]]:
    """The keyword names ``obj(**kwargs)`` accepts, or None when it cannot be told.

    For a class, ``__init__`` parameters are collected along the MRO while each
    ``__init__`` only forwards its ``**kwargs`` to a parent ``__init__``; any other
    use of ``**kwargs`` (or no source to read) gives None.

    Args:
        obj (Any): a class or a callable.

    Returns:
        set[str] | None: the accepted keyword names, or None (accept anything).
    """
    if inspect.isclass(obj):
        return _class_keywords(obj)
    sig = _signature(obj)
    if sig is None:
        return None
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in _NAMED}
