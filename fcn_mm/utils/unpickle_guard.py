"""What fcn_mm's checkpoint rebuilders share: the refusal error and the in-load flag.

The rebuilders (:mod:`fcn_mm.utils.numpy_rebuild`, :mod:`fcn_mm.utils.history_buffer_rebuild`)
run only while :func:`fcn_mm.utils.safe_loading.load_checkpoint_file` loads a file in
this thread (:func:`rebuilding`); called from anywhere else (another thread's plain
``torch.load`` while fcn_mm's allow-list is briefly in force) they refuse. The first
refusal of a load is kept, because ``torch.load`` replaces the error text with its own.

Rebuilders may return placeholders (objects whose class has a ``_fcn_mm_finish()``
method); :func:`finish_placeholders` swaps them for the finished objects after the load.
"""
import contextlib
import pickle
import threading
from collections import Counter, OrderedDict
from typing import Any, Dict, Iterator, NoReturn, Optional

import torch
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = ['RefusedCheckpointContent', 'rebuilding', 'refuse', 'require_rebuilding',
           'first_refusal', 'charge_rebuilt_bytes', 'note_placeholder', 'placeholders_made',
           'finish_placeholders']

_state = threading.local()


class RefusedCheckpointContent(pickle.UnpicklingError):
    """A checkpoint asks fcn_mm's rebuilders for something they do not rebuild."""


@contextlib.contextmanager
def rebuilding(budget: int) -> Iterator[None]:
    """Mark this thread as inside fcn_mm's checkpoint loader for one load.

    Args:
        budget (int): how many bytes of array data the rebuilders may copy in this load
            (the file's size plus a small slack).
    """
    if getattr(_state, 'active', False):
        raise RuntimeError('fcn_mm.utils.unpickle_guard.rebuilding() is not re-entrant')
    _state.active, _state.refusal, _state.placeholders = True, None, 0
    _state.budget, _state.spent = budget, 0
    try:
        yield
    finally:
        _state.active = False


def require_rebuilding(what: str) -> None:
    """Refuse unless this thread is inside :func:`rebuilding`.

    Args:
        what (str): the global being rebuilt, for the message.
    """
    if not getattr(_state, 'active', False):
        raise RefusedCheckpointContent(
            f'{what} is rebuilt only by fcn_mm.utils.safe_loading.load_checkpoint_file, '
            'not by a plain torch.load')


def refuse(reason: str) -> NoReturn:
    """Raise :class:`RefusedCheckpointContent` and remember the first reason of the load."""
    if getattr(_state, 'active', False) and _state.refusal is None:
        _state.refusal = reason
    raise RefusedCheckpointContent(reason)


def first_refusal() -> Optional[str]:
    """The first reason :func:`refuse` gave during the current (or last) load, if any."""
    return getattr(_state, 'refusal', None)


def charge_rebuilt_bytes(nbytes: int, what: str) -> None:
    """Count ``nbytes`` of rebuilt data against this load's budget; refuse beyond it.

    Args:
        nbytes (int): bytes about to be copied (e.g. one numpy array's data).
        what (str): what is rebuilt, for the message.
    """
    spent = getattr(_state, 'spent', 0) + nbytes
    _state.spent = spent
    if spent > getattr(_state, 'budget', 0):
        refuse(f'{what} would bring the rebuilt data of this file to {spent} bytes, more '
               f'than the file can carry ({_state.budget} bytes with slack): a pickle that '
               'points many arrays at one memoised bytes object is refused')


def note_placeholder() -> None:
    """Count one placeholder object made during this load (see ``numpy_rebuild``)."""
    _state.placeholders = getattr(_state, 'placeholders', 0) + 1


def placeholders_made() -> int:
    """How many placeholders this load made (0: nothing to finish)."""
    return getattr(_state, 'placeholders', 0)


def _finish(node: Any, done: Dict[int, Any]) -> Any:
    kind = type(node)
    finish = getattr(kind, '_fcn_mm_finish', None)
    if finish is not None:
        return finish(node)
    if isinstance(node, torch.Tensor):  # attributes set by _rebuild_*_with_state
        if id(node) not in done and node.__dict__:
            done[id(node)] = node
            for key, value in list(node.__dict__.items()):
                node.__dict__[key] = _finish(value, done)
        return node
    if kind is HistoryBuffer:
        return node  # its state was checked when it was built
    if kind not in (dict, OrderedDict, Counter, list, tuple, set):
        return node
    if id(node) in done:
        return done[id(node)]
    done[id(node)] = node
    if kind is tuple:
        items = tuple(_finish(item, done) for item in node)
        if any(new is not old for new, old in zip(items, node)):
            done[id(node)] = items
        return done[id(node)]
    if kind in (list, set):
        items = [_finish(item, done) for item in node]
        if kind is list:
            node[:] = items
        elif any(new is not old for new, old in zip(items, node)):
            node.clear()
            node.update(items)
        return node
    items = [(_finish(k, done), _finish(v, done)) for k, v in node.items()]
    if any(new is not old for (new, _), old in zip(items, node)):
        node.clear()
    for key, value in items:
        node[key] = value
    if kind is OrderedDict and node.__dict__:  # e.g. a state_dict's _metadata
        for key, value in list(node.__dict__.items()):
            node.__dict__[key] = _finish(value, done)
    return node


def finish_placeholders(obj: Any) -> Any:
    """Swap the placeholders in ``obj`` for finished objects; refuse unfinished ones.

    Every container (dicts, lists, tuples, sets, an OrderedDict's ``__dict__``) and every
    tensor's attributes are walked, whether or not the rebuilders counted a placeholder:
    a placeholder that a pickle made some other way is refused here (its class's
    ``_fcn_mm_finish``), so none reaches the caller.

    Args:
        obj (Any): what ``torch.load`` returned inside :func:`rebuilding`.

    Returns:
        Any: ``obj`` (containers changed in place; tuples rebuilt where needed).
    """
    return _finish(obj, {})
