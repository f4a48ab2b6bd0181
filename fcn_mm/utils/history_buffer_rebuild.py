"""mmengine ``HistoryBuffer`` objects of a checkpoint, rebuilt with the class's own statistics.

A pickled HistoryBuffer (the ``message_hub.log_scalars`` of a Runner checkpoint) is
``NEWOBJ HistoryBuffer`` plus a BUILD with its ``__dict__``: ``max_length``,
``_log_history`` and ``_count_history`` (1-d numpy arrays) and ``statistics_methods``, a
dict of ``builtins.getattr(HistoryBuffer, 'min' | 'max' | 'current' | 'mean')``.
mmengine's own ``__setstate__`` copies that dict into the class-wide statistics table (a
file could make every buffer's ``mean`` return the max) and then takes any other key.

:data:`SAFE_GLOBALS` binds ``mmengine.logging.history_buffer.HistoryBuffer`` to
:class:`LoadingHistoryBuffer`, whose ``__setstate__`` takes exactly those four keys, checks
them, ignores the file's statistics table (the loaded buffer uses ``HistoryBuffer``'s own
methods) and then turns the object into a plain ``HistoryBuffer``; and ``builtins.getattr``
to :func:`statistics_method_getattr`, which returns only those four methods.
"""
from typing import Any, Dict

from mmengine.logging.history_buffer import HistoryBuffer

from .numpy_rebuild import finished_array
from .unpickle_guard import note_placeholder, refuse, require_rebuilding

__all__ = ['SAFE_GLOBALS', 'LoadingHistoryBuffer', 'statistics_method_getattr',
           'STATISTICS_METHODS', 'MAX_LENGTH']

STATISTICS_METHODS = ('min', 'max', 'current', 'mean')
MAX_LENGTH = 10 ** 7  # mmengine's default is 10**6
_STATE_KEYS = ('max_length', '_log_history', '_count_history')
_NAME = 'mmengine.logging.history_buffer.HistoryBuffer'


def _describe(obj: Any) -> str:
    if obj is LoadingHistoryBuffer:
        return 'HistoryBuffer'
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + '...'


class LoadingHistoryBuffer(HistoryBuffer):
    """A HistoryBuffer while it is unpickled; a plain ``HistoryBuffer`` once it has state."""

    def __new__(cls, *args, **kwargs):
        require_rebuilding(_NAME)
        if args or kwargs:
            refuse(f'{_NAME} created with arguments is refused')
        note_placeholder()
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        refuse(f'{_NAME}(...) called by a checkpoint is refused: a HistoryBuffer is rebuilt '
               'only from its pickled state')

    def __setstate__(self, state: Any) -> None:
        checked = _checked_state(state)
        HistoryBuffer._set_default_statistics(self)  # the class's own, never the file's
        self.__dict__.update(checked)
        self.__class__ = HistoryBuffer

    def _fcn_mm_finish(self) -> HistoryBuffer:
        refuse(f'a {_NAME} without its state is refused')


def _checked_state(state: Any) -> Dict[str, Any]:
    if type(state) is not dict or any(type(k) is not str for k in state):
        refuse(f'{_NAME} state of type {type(state).__name__} is refused: expected a dict '
               'with string keys')
    keys = set(state) - {'statistics_methods'}
    if keys != set(_STATE_KEYS):
        refuse(f'{_NAME} state with keys {sorted(state)} is refused: expected '
               f'{list(_STATE_KEYS)} and statistics_methods')
    max_length = state['max_length']
    if type(max_length) is not int or not 0 < max_length <= MAX_LENGTH:
        refuse(f'{_NAME}.max_length {_describe(max_length)} is refused: expected an int '
               f'in 1..{MAX_LENGTH}')
    log = finished_array(state['_log_history'], 'HistoryBuffer._log_history')
    count = finished_array(state['_count_history'], 'HistoryBuffer._count_history')
    for what, array in (('_log_history', log), ('_count_history', count)):
        if array.dtype.kind not in 'fiu' or not array.dtype.isnative:
            refuse(f'{_NAME}.{what} of dtype {array.dtype.str!r} is refused: expected a '
                   'real float or integer dtype in native byte order (no complex, bool or '
                   'byte-swapped histories)')
    if log.ndim != 1 or count.ndim != 1 or len(log) != len(count):
        refuse(f'{_NAME} histories of shapes {log.shape} and {count.shape} are refused: '
               'expected two 1-d arrays of the same length')
    if len(log) > max_length:
        refuse(f'{_NAME} histories of length {len(log)} are refused: longer than its '
               f'max_length {max_length}')
    methods = state.get('statistics_methods', {})
    own = [getattr(HistoryBuffer, name) for name in STATISTICS_METHODS]
    if type(methods) is not dict or any(
            type(k) is not str or not any(v is f for f in own) for k, v in methods.items()):
        refuse(f'{_NAME}.statistics_methods is refused: expected a dict of the methods '
               f'{STATISTICS_METHODS}')
    return dict(max_length=max_length, _log_history=log, _count_history=count)


def statistics_method_getattr(obj: Any, name: Any, *default: Any) -> Any:
    """Bound to ``builtins.getattr``: ``HistoryBuffer.min/max/current/mean`` only.

    Args:
        obj: must be the HistoryBuffer class (as the pickle names it).
        name (str): one of :data:`STATISTICS_METHODS`.

    Returns:
        Callable: the unbound method, e.g. ``HistoryBuffer.mean``.
    """
    require_rebuilding('builtins.getattr')
    if obj is LoadingHistoryBuffer and not default and type(name) is str \
            and name in STATISTICS_METHODS:
        return getattr(HistoryBuffer, name)
    refuse(f'builtins.getattr({_describe(obj)}, {_describe(name)}) is refused: fcn_mm '
           f"rebuilds getattr only for HistoryBuffer's statistics methods "
           f'{STATISTICS_METHODS}')


SAFE_GLOBALS: list = [
    (LoadingHistoryBuffer, _NAME),
    (statistics_method_getattr, 'builtins.getattr'),
]
