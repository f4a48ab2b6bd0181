"""Check a config's ``_base_`` chain before mmengine reads it.

mmengine reports a missing base only as "file X does not exist"; :func:`check_base_files`
also names the config that asked for it. The ``_base_`` entries are read with ``ast``
(the config is not executed).
"""
import ast
import os.path as osp
from typing import Any

__all__ = ['check_base_files']


def _base_files(filename: str) -> list:
    """The ``_base_`` entries of a config file, read without executing it."""
    if filename.endswith('.py'):
        with open(filename, encoding='utf-8') as f:
            body = ast.parse(f.read(), filename=filename).body
        bases: Any = []
        for node in body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == '_base_'):
                try:
                    bases = ast.literal_eval(node.value)
                except ValueError:
                    return []
    elif filename.endswith(('.json', '.yaml', '.yml')):
        import mmengine
        bases = (mmengine.load(filename) or {}).get('_base_', [])
    else:
        return []
    return [b for b in (bases if isinstance(bases, (list, tuple)) else [bases])
            if isinstance(b, str)]


def _check_bases(filename: str, seen: set) -> None:
    """Walk the ``_base_`` graph from ``filename`` (visiting each file once)."""
    if filename in seen:
        return
    seen.add(filename)
    for base in _base_files(filename):
        if '::' in base:  # a base from another installed package
            continue
        resolved = osp.abspath(osp.join(osp.dirname(filename), base))
        if not osp.isfile(resolved):
            raise FileNotFoundError(
                f'Config {filename!r} inherits the `_base_` file {base!r}, which does '
                f'not exist (looked for {resolved!r}).')
        _check_bases(resolved, seen)


def check_base_files(filename: str) -> None:
    """Raise if any ``_base_`` file inherited (directly or not) by ``filename`` is missing.

    Args:
        filename (str): absolute path of a config file.

    Raises:
        FileNotFoundError: names the missing base, the config that lists it, and the
            path that was looked for. Bases from other packages (``pkg::path``) are
            not checked.
    """
    _check_bases(filename, set())
