"""Numpy arrays, dtypes and scalars of a checkpoint, rebuilt by fcn_mm's own checks.

numpy pickles (protocol 2, as ``torch.save`` writes them) name four globals::

    numpy.dtype(code, align, copy)                  BUILD (3, byteorder, subarray, names,
                                                           fields, elsize, alignment, flags)
    numpy._core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')
                                                    BUILD (1, shape, dtype, is_fortran, data)
    numpy._core.multiarray.scalar(dtype, data)
    builtins.bytes()                                the data of an empty array (b'')

(numpy 1 wrote ``numpy.core.multiarray``). :data:`SAFE_GLOBALS` binds these names to the
functions here, never to numpy's: numpy's own ``dtype.__setstate__`` (which accepts fields
of any dtype, object pointers included) and ``ndarray.__setstate__`` never see a file's
data. Only plain numeric and bool dtypes are rebuilt (:data:`PLAIN_DTYPES`): no object,
void/structured, subarray, string or datetime dtypes. An array's shape, dtype and byte
length are checked against each other before any array exists.

``numpy.dtype(...)`` and ``_reconstruct(...)`` return placeholders
(:class:`NumpyDtypeInProgress`, :class:`NumpyArrayInProgress`) whose ``__setstate__``
takes the BUILD state; :func:`fcn_mm.utils.unpickle_guard.finish_placeholders` swaps
them for the finished dtype or array once the load is done.
"""
import math
import re
import reprlib
import sys
from typing import Any, Tuple

import numpy as np

from .unpickle_guard import (charge_rebuilt_bytes, note_placeholder, refuse,
                             require_rebuilding)

__all__ = ['SAFE_GLOBALS', 'PLAIN_DTYPES', 'NumpyArrayInProgress', 'NumpyDtypeInProgress',
           'NumpyNdarrayName', 'finished_array', 'rebuild_dtype', 'rebuild_array',
           'rebuild_scalar', 'rebuild_empty_bytes']

PLAIN_DTYPES = 'b1 (bool), i1-i8, u1-u8, f2-f16, c8-c32'
MAX_DIMS = 64  # numpy 2's NPY_MAXDIMS
_PLAIN_CODE = re.compile(r'[biufc][0-9]{1,2}')
_KINDS = {'O': 'an object dtype, whose cells are pointers', 'V': 'a void/structured dtype',
          'U': 'a unicode string dtype', 'S': 'a bytes string dtype', 'a': 'a bytes string dtype',
          'M': 'a datetime dtype', 'm': 'a timedelta dtype', 'T': 'a variable-width string dtype'}
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlong = 40


def _plain_dtype(code: Any) -> np.dtype:
    """``np.dtype(code)`` for a plain numeric/bool code such as ``'f4'``; refuse the rest."""
    if type(code) is not str:
        refuse(f'numpy.dtype({_short.repr(code)}) is refused: a dtype is named by a string '
               'such as "f4"')
    if _PLAIN_CODE.fullmatch(code):
        try:
            dtype = np.dtype(code)
        except (TypeError, ValueError):
            dtype = None
        if dtype is not None and f'{dtype.kind}{dtype.itemsize}' == code:
            return dtype
    kind = _KINDS.get(code[:1], 'not a plain numeric or bool dtype')
    refuse(f'numpy dtype {_short.repr(code)} is refused ({kind}): fcn_mm rebuilds arrays and '
           f'scalars of plain numeric and bool dtypes only ({PLAIN_DTYPES})')


def _dtype_with_state(dtype: np.dtype, state: Any) -> np.dtype:
    """Apply a dtype's BUILD state: only a byte order; no subarray, fields or flags."""
    expected = '(3, byteorder, None, None, None, -1, -1, 0)'
    if type(state) is not tuple or len(state) != 8 or type(state[0]) is not int \
            or state[0] != 3:
        refuse(f'numpy dtype {dtype.str!r} with state {_short.repr(state)} is refused: a '
               f'plain dtype pickles as {expected}')
    _, byteorder, subarray, names, fields, elsize, alignment, flags = state
    if subarray is not None:
        refuse(f'numpy dtype {dtype.str!r} with a subarray {_short.repr(subarray)} is '
               'refused (subarray dtypes are not rebuilt)')
    if names is not None or fields is not None:
        refuse(f'numpy dtype {dtype.str!r} with fields {_short.repr(fields)} is refused '
               '(a dtype state with fields makes a structured dtype, possibly with object '
               'fields)')
    if any(type(v) is not int for v in (elsize, alignment, flags)) \
            or (elsize, alignment, flags) != (-1, -1, 0):
        refuse(f'numpy dtype {dtype.str!r} with elsize/alignment/flags '
               f'{_short.repr((elsize, alignment, flags))} is refused: a plain dtype has '
               '(-1, -1, 0)')
    orders = ('|',) if dtype.itemsize == 1 else ('<', '>', '=')
    if type(byteorder) is not str or byteorder not in orders:
        refuse(f'numpy dtype {dtype.str!r} with byte order {_short.repr(byteorder)} is '
               f'refused: expected one of {orders}')
    return dtype.newbyteorder(byteorder) if byteorder in '<>' else dtype


class NumpyDtypeInProgress:
    """A dtype being rebuilt: its code from ``numpy.dtype(...)``, its byte order from BUILD."""

    __slots__ = ('_dtype', '_has_state')

    def __new__(cls, *args, **kwargs):  # NEWOBJ / REDUCE of the class itself
        refuse('a numpy dtype placeholder that numpy.dtype(...) did not make is refused '
               '(fcn_mm.utils.numpy_rebuild.NumpyDtypeInProgress created by the checkpoint '
               'itself)')

    def __setstate__(self, state: Any) -> None:
        dtype = getattr(self, '_dtype', None)
        if dtype is None:
            refuse('a numpy dtype state for an object that numpy.dtype(...) did not make '
                   'is refused')
        if self._has_state:
            refuse(f'numpy dtype {dtype.str!r} given a second state is refused')
        self._dtype, self._has_state = _dtype_with_state(dtype, state), True

    def _fcn_mm_finish(self) -> np.dtype:
        dtype = getattr(self, '_dtype', None)
        if dtype is None:
            refuse('an empty numpy dtype placeholder is refused')
        return dtype


class NumpyArrayInProgress:
    """An array being rebuilt: made by ``_reconstruct``, filled by its BUILD state."""

    __slots__ = ('_array',)

    def __new__(cls, *args, **kwargs):  # NEWOBJ / REDUCE of the class itself
        refuse('a numpy array placeholder that _reconstruct did not make is refused '
               '(fcn_mm.utils.numpy_rebuild.NumpyArrayInProgress created by the checkpoint '
               'itself)')

    def __setstate__(self, state: Any) -> None:
        current = getattr(self, '_array', False)
        if current is False:
            refuse('a numpy array state for an object that _reconstruct did not make is '
                   'refused')
        if current is not None:
            refuse('a numpy array given a second state is refused')
        self._array = _array_from_state(state)

    def _fcn_mm_finish(self) -> np.ndarray:
        array = getattr(self, '_array', None)
        if array is None:
            refuse('a numpy array without its data (no state) is refused')
        return array


class NumpyNdarrayName:
    """Stands for ``numpy.ndarray`` in a pickle: only as the first argument of _reconstruct."""

    def __new__(cls, *args, **kwargs):
        refuse('numpy.ndarray(...) is refused: arrays are rebuilt only through '
               'numpy._core.multiarray._reconstruct and their state')


def _finished_dtype(obj: Any) -> np.dtype:
    if type(obj) is not NumpyDtypeInProgress:
        refuse(f'a numpy dtype was expected, the checkpoint gives {_short.repr(obj)}')
    return obj._fcn_mm_finish()


def finished_array(obj: Any, what: str) -> np.ndarray:
    """The finished array of a :class:`NumpyArrayInProgress`; refuse anything else.

    Args:
        obj (Any): the value the checkpoint gives where an array belongs.
        what (str): where it belongs, for the message (e.g. ``HistoryBuffer._log_history``).
    """
    if type(obj) is not NumpyArrayInProgress:
        refuse(f'{what} must be a numpy array, the checkpoint gives {_short.repr(obj)}')
    return obj._fcn_mm_finish()


def _checked_shape(shape: Any) -> Tuple[int, ...]:
    if type(shape) is not tuple or len(shape) > MAX_DIMS \
            or any(type(d) is not int or not 0 <= d <= sys.maxsize for d in shape):
        refuse(f'numpy array shape {_short.repr(shape)} is refused: expected a tuple of at '
               f'most {MAX_DIMS} non-negative ints')
    return shape


def _check_bool_bytes(data: bytes, what: str) -> None:
    if data.translate(None, b'\x00\x01'):
        refuse(f'{what} of dtype bool holds bytes other than 0 and 1')


def _array_from_state(state: Any) -> np.ndarray:
    """A new C- or Fortran-ordered array from ``(1, shape, dtype, is_fortran, data)``."""
    if type(state) is not tuple or len(state) not in (4, 5):
        refuse(f'numpy array state {_short.repr(state)} is refused: expected '
               '(1, shape, dtype, is_fortran, data)')
    if len(state) == 5:
        if type(state[0]) is not int or state[0] != 1:
            refuse(f'numpy array state version {_short.repr(state[0])} is refused: expected 1')
        state = state[1:]
    shape, dtype, fortran, data = state
    dtype = _finished_dtype(dtype)
    shape = _checked_shape(shape)
    if type(fortran) is not bool:
        refuse(f'numpy array is_fortran flag {_short.repr(fortran)} is refused: expected a '
               'bool')
    if type(data) is not bytes:
        refuse(f'numpy array data {_short.repr(data)} is refused: expected bytes (object '
               'arrays pickle a list of objects here)')
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if len(data) != nbytes:
        refuse(f'numpy array of shape {_short.repr(shape)} and dtype {dtype.str!r} needs '
               f'{nbytes} bytes of data, the checkpoint gives {len(data)}')
    if math.prod(d for d in shape if d) * dtype.itemsize > sys.maxsize:
        refuse(f'numpy array of shape {_short.repr(shape)} is refused: too large to exist')
    if dtype.kind == 'b':
        _check_bool_bytes(data, 'a numpy array')
    charge_rebuilt_bytes(nbytes, f'a numpy array of {nbytes} bytes')
    flat = np.frombuffer(data, dtype=dtype)
    return flat.reshape(shape, order='F' if fortran else 'C').copy(order='K')


def rebuild_dtype(code: Any, align: Any = False, copy: Any = True) -> NumpyDtypeInProgress:
    """Bound to ``numpy.dtype``: a placeholder for a plain numeric or bool dtype.

    Args:
        code (str): the dtype code numpy pickles (``'f4'``, ``'i8'``, ``'b1'`` ...).
        align (bool): numpy's align flag (meaningless for plain dtypes; old numpy: 0/1).
        copy (bool): numpy's copy flag.

    Returns:
        NumpyDtypeInProgress: finished by its BUILD state and the end of the load.
    """
    require_rebuilding('numpy.dtype')
    if any(type(flag) not in (bool, int) or flag not in (0, 1) for flag in (align, copy)):
        refuse(f'numpy.dtype({_short.repr(code)}, {_short.repr(align)}, '
               f'{_short.repr(copy)}) is refused: align and copy must be bools (or 0/1, as '
               'old numpy wrote them)')
    placeholder = object.__new__(NumpyDtypeInProgress)
    placeholder._dtype, placeholder._has_state = _plain_dtype(code), False
    note_placeholder()
    return placeholder


def rebuild_array(subtype: Any, shape: Any, typecode: Any) -> NumpyArrayInProgress:
    """Bound to ``numpy._core.multiarray._reconstruct``: a placeholder for an ndarray.

    Args:
        subtype: must be ``numpy.ndarray`` (no subclasses: masked arrays, matrices).
        shape, typecode: numpy always pickles ``(0,)`` and ``b'b'``.

    Returns:
        NumpyArrayInProgress: filled by its BUILD state ``(1, shape, dtype, is_fortran,
        data)``.
    """
    require_rebuilding('numpy._core.multiarray._reconstruct')
    if subtype is not NumpyNdarrayName:
        refuse(f'numpy._core.multiarray._reconstruct({_short.repr(subtype)}, ...) is '
               'refused: only plain numpy.ndarray is rebuilt (no subclasses)')
    if type(shape) is not tuple or len(shape) != 1 or type(shape[0]) is not int \
            or shape[0] != 0 or type(typecode) is not bytes or typecode != b'b':
        refuse(f'numpy._core.multiarray._reconstruct(ndarray, {_short.repr(shape)}, '
               f'{_short.repr(typecode)}) is refused: numpy pickles ((0,), b"b")')
    placeholder = object.__new__(NumpyArrayInProgress)
    placeholder._array = None
    note_placeholder()
    return placeholder


def rebuild_scalar(dtype: Any, data: Any = None) -> np.generic:
    """Bound to ``numpy._core.multiarray.scalar``: a numpy scalar of a plain dtype.

    Args:
        dtype (NumpyDtypeInProgress): the scalar's dtype.
        data (bytes): exactly ``dtype.itemsize`` bytes.

    Returns:
        np.generic: e.g. ``np.float64(1.5)``.
    """
    require_rebuilding('numpy._core.multiarray.scalar')
    dtype = _finished_dtype(dtype)
    if type(data) is not bytes or len(data) != dtype.itemsize:
        refuse(f'numpy scalar of dtype {dtype.str!r} with data {_short.repr(data)} is '
               f'refused: expected {dtype.itemsize} bytes')
    if dtype.kind == 'b':
        _check_bool_bytes(data, 'a numpy scalar')
    return np.frombuffer(data, dtype=dtype)[0]


def rebuild_empty_bytes(*args: Any) -> bytes:
    """Bound to ``builtins.bytes``: pickle protocol 2 writes ``b''`` as ``bytes()``.

    Returns:
        bytes: ``b''``; ``bytes(n)`` and ``bytes(iterable)`` are refused.
    """
    require_rebuilding('builtins.bytes')
    if args:
        refuse(f'builtins.bytes{_short.repr(args)} is refused: only bytes() (the empty '
               'data of an empty array) is rebuilt')
    return b''


SAFE_GLOBALS: list = [
    (rebuild_dtype, 'numpy.dtype'),
    (NumpyNdarrayName, 'numpy.ndarray'),
    (rebuild_array, 'numpy._core.multiarray._reconstruct'),
    (rebuild_array, 'numpy.core.multiarray._reconstruct'),
    (rebuild_scalar, 'numpy._core.multiarray.scalar'),
    (rebuild_scalar, 'numpy.core.multiarray.scalar'),
    (rebuild_empty_bytes, 'builtins.bytes'),
    NumpyDtypeInProgress,  # BUILD targets (their __setstate__ checks the state)
    NumpyArrayInProgress,
]
