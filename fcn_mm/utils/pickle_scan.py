"""A scan of a checkpoint's pickle stream before ``torch.load``: no allocation beyond the file.

``torch.load(weights_only=True)`` admits callables that allocate memory the file does not
carry: ``bytearray(200_000_000)`` from a file of a few hundred bytes, ``torch.Tensor(n)``,
``torch.UntypedStorage(n)``, ``_rebuild_qtensor`` (an empty quantized tensor of any
size), ``_codecs.encode`` of one memoised text any number of times, numpy arrays that
all copy one memoised bytes object. :func:`checkpoint_scan_problem` walks the opcodes of
every pickle that ``torch.load`` will read (``<archive>/data.pkl`` of a zip checkpoint;
the five pickles of a legacy file), tracks the stack and the memo as torch's
``weights_only`` unpickler does (its protocol 2 opcodes only), and refuses:

* calls (REDUCE / NEWOBJ) of the torch-admitted callables that allocate from a number or
  convert data: ``builtins.bytearray``, every tensor and storage class, ``torch.Tensor``,
  ``torch._utils._rebuild_qtensor`` / ``_rebuild_sparse_tensor`` /
  ``_rebuild_nested_tensor`` / ``_rebuild_wrapper_subclass`` /
  ``_rebuild_device_tensor_from_numpy`` / ``_rebuild_device_tensor_from_cpu_tensor``,
  and ``_rebuild_from_type_v2`` around any of them;
* ``_codecs.encode`` other than ``(text, 'latin1')`` (what pickle writes for bytes), and
  ``set`` / ``Counter`` / ``OrderedDict`` / ``torch.Size`` built from a text or bytes
  (one object per character);
* a file whose ``_codecs.encode`` results, numpy array data, legacy storages or container
  elements copied into calls and BUILDs (each sum on its own; one memoised object counts
  each time it is used) exceed the file's size plus :data:`SLACK_BYTES`;
* zip records that are compressed (``torch.save`` stores them; a compressed record
  expands to more than the file holds) or larger than the file.

Calls of globals that torch and fcn_mm do not admit at all are left to ``torch.load``,
which refuses them with their name; fcn_mm's own rebuilders (numpy, HistoryBuffer) check
their arguments themselves. ``pickletools.genops`` is not used: it decodes every string
argument (a 4 MB text would cost 8 MB during the scan); this reader skips long strings
in 1 MiB chunks and keeps only their length.
"""
import functools
import struct
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from typing import Any, BinaryIO, Dict, List, Optional, Tuple

__all__ = ['checkpoint_scan_problem', 'SLACK_BYTES', 'REFUSED_CALLS']

SLACK_BYTES = 64 * 1024
_KEEP_TEXT = 256  # texts up to this length are kept (names, keys, codecs)
_CHUNK = 1 << 20

_TORCH_UTILS = 'torch._utils.'
REFUSED_CALLS = {
    'builtins.bytearray': 'it allocates from a number in the file (bytearray(n))',
    'torch.Tensor': 'it allocates from a number in the file (torch.Tensor(n))',
    'torch.storage.UntypedStorage': 'it allocates from a number in the file',
    'torch.storage.TypedStorage': 'it allocates from a number in the file',
    _TORCH_UTILS + '_rebuild_qtensor': 'it allocates an empty quantized tensor of the '
                                       'size the file names',
    _TORCH_UTILS + '_rebuild_sparse_tensor': 'fcn_mm loads dense tensors only',
    _TORCH_UTILS + '_rebuild_nested_tensor': 'fcn_mm loads dense tensors only',
    _TORCH_UTILS + '_rebuild_wrapper_subclass': 'fcn_mm loads dense tensors only',
    _TORCH_UTILS + '_rebuild_device_tensor_from_numpy': 'it copies and converts data',
    _TORCH_UTILS + '_rebuild_device_tensor_from_cpu_tensor': 'it copies and converts data',
}
_FROM_ITERABLE = ('builtins.set', 'collections.Counter', 'collections.OrderedDict',
                  'torch.Size')
_TENSOR_TYPES = ('torch.Tensor', 'torch.nn.parameter.Parameter')
_RECONSTRUCT = ('numpy._core.multiarray._reconstruct', 'numpy.core.multiarray._reconstruct')


class _Refusal(Exception):
    """Why the scan refuses the file (its text follows 'it ...')."""


class _Glob:
    __slots__ = ('name',)

    def __init__(self, name: str):
        self.name = name


class _Text:
    """A text (``BINUNICODE``) or bytes (``_codecs.encode`` result): its length in bytes."""
    __slots__ = ('length', 'value', 'is_bytes')

    def __init__(self, length: int, value: Optional[str], is_bytes: bool = False):
        self.length, self.value, self.is_bytes = length, value, is_bytes


class _Int:
    __slots__ = ('value',)

    def __init__(self, value: int):
        self.value = value


class _Tuple:
    __slots__ = ('items',)

    def __init__(self, items: List[Any]):
        self.items = items

    @property
    def count(self) -> int:
        return len(self.items)


class _Box:
    """A list, dict or set: how many elements APPEND(S)/SETITEM(S) gave it."""
    __slots__ = ('count',)

    def __init__(self):
        self.count = 0


class _Made(_Box):
    """The result of calling the global ``name`` (an OrderedDict may get items)."""
    __slots__ = ('name',)

    def __init__(self, name: str):
        super().__init__()
        self.name = name


_OTHER = object()  # floats, None, bools ... (nothing the scan needs to know)
_MARK = object()


@functools.lru_cache(maxsize=1)
def _admitted_names() -> Dict[str, Any]:
    """Globals torch's weights_only unpickler and fcn_mm's allow-list admit."""
    from torch import _weights_only_unpickler as unpickler

    from .history_buffer_rebuild import SAFE_GLOBALS as HB_GLOBALS
    from .numpy_rebuild import SAFE_GLOBALS as NP_GLOBALS
    names = dict(unpickler._get_allowed_globals())
    for entry in NP_GLOBALS + HB_GLOBALS:
        if isinstance(entry, tuple):
            names.setdefault(entry[1], entry[0])
        else:
            names.setdefault(f'{entry.__module__}.{entry.__qualname__}', entry)
    return names


def _element_size(storage_name: str, admitted: Dict[str, Any]) -> int:
    import torch
    storage = admitted.get(storage_name)
    dtype = getattr(storage, 'dtype', None)
    return torch._utils._element_size(dtype) if isinstance(dtype, torch.dtype) else 16


class _Scanner:
    """Walks pickles opcode by opcode, keeping what the checks need of stack and memo."""

    def __init__(self, budget: int, legacy: bool):
        self.budget, self.legacy = budget, legacy
        self.admitted = _admitted_names()
        self.encoded = self.array_bytes = self.storage_bytes = self.copied_items = 0
        self.legacy_keys: set = set()

    # ---- reading ----
    @staticmethod
    def _read(stream: BinaryIO, n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def _text(self, stream: BinaryIO, n: int, decode: bool = True) -> _Text:
        if n <= _KEEP_TEXT:
            raw = self._read(stream, n)
            return _Text(n, raw.decode('utf-8', 'surrogatepass') if decode else None)
        left = n
        while left:
            left -= len(self._read(stream, min(left, _CHUNK)))
        return _Text(n, None)

    # ---- checks ----
    def _charge(self, what: str, n: int) -> None:
        total = getattr(self, what) + n
        setattr(self, what, total)
        if total > self.budget:
            label = dict(encoded='bytes made by _codecs.encode',
                         array_bytes='bytes of numpy array data',
                         storage_bytes='bytes of legacy storages',
                         copied_items='container elements copied into calls')[what]
            raise _Refusal(f'its pickle asks for {total} {label}, more than the file can '
                           f'carry ({self.budget - SLACK_BYTES} bytes + {SLACK_BYTES} '
                           'slack): it reuses memoised data or declares more than it holds')

    def _charge_copies(self, args: Any) -> None:
        """A call or BUILD copies at most its arguments and their elements (one level)."""
        items = args.items if isinstance(args, _Tuple) else [args]
        self._charge('copied_items', len(items) + sum(
            item.count for item in items if isinstance(item, (_Box, _Tuple))))

    def _call(self, func: Any, args: Any, opcode: str) -> Any:
        if not isinstance(func, _Glob) or func.name not in self.admitted:
            return _Made('')  # torch.load refuses it with the name
        name = func.name
        self._charge_copies(args)
        items = args.items if isinstance(args, _Tuple) else None
        reason = REFUSED_CALLS.get(name)
        if reason is None and name.startswith('torch.') and (
                name.endswith('Tensor') or name.endswith('Storage')):
            reason = 'tensor and storage classes allocate from a number in the file'
        if reason is not None:
            raise _Refusal(f'its pickle calls {name} ({opcode}), which fcn_mm refuses: '
                           f'{reason}')
        if name == 'torch._tensor._rebuild_from_type_v2':
            if items is None or len(items) != 4 or not isinstance(items[1], _Glob) \
                    or items[1].name not in _TENSOR_TYPES:
                raise _Refusal('its pickle calls torch._tensor._rebuild_from_type_v2 with '
                               'a type other than torch.Tensor or Parameter')
            self._call(items[0], items[2], 'inside _rebuild_from_type_v2')
            return _Made(name)
        if name == '_codecs.encode':
            if items is None or len(items) != 2 or not isinstance(items[0], _Text) \
                    or items[0].is_bytes or not isinstance(items[1], _Text) \
                    or items[1].value not in ('latin1', 'latin-1'):
                raise _Refusal("its pickle calls _codecs.encode with other than (text, "
                               "'latin1'), which pickle writes for bytes")
            self._charge('encoded', items[0].length)
            return _Text(items[0].length, None, is_bytes=True)
        if name in _FROM_ITERABLE and items and any(
                isinstance(i, _Text) for i in items):
            raise _Refusal(f'its pickle builds {name} from a text or bytes (one object '
                           'per character)')
        return _Made(name)

    def _build(self, inst: Any, state: Any) -> None:
        self._charge_copies(state)
        if isinstance(inst, _Made) and inst.name in _RECONSTRUCT \
                and isinstance(state, _Tuple) and state.items \
                and isinstance(state.items[-1], _Text):
            self._charge('array_bytes', state.items[-1].length)

    def _persistent(self, pid: Any) -> None:
        if not self.legacy or not isinstance(pid, _Tuple) or len(pid.items) < 5:
            return  # zip: torch checks each record's size against its numel
        _, storage, key, _, numel = pid.items[:5]
        if not isinstance(numel, _Int) or not isinstance(storage, _Glob):
            return
        key = key.value if isinstance(key, _Text) else id(key)
        if key not in self.legacy_keys:
            self.legacy_keys.add(key)
            self._charge('storage_bytes',
                         max(numel.value, 0) * _element_size(storage.name, self.admitted))

    # ---- the walk ----
    def scan(self, stream: BinaryIO) -> None:
        """Walk one pickle (to its STOP); stop quietly at an opcode torch refuses."""
        stack: List[Any] = []
        marks: List[List[Any]] = []
        memo: Dict[int, Any] = {}
        read = self._read

        def pop_mark() -> List[Any]:
            nonlocal stack
            items, stack = stack, marks.pop()
            return items

        while True:
            op = read(stream, 1)
            if op == b'c':  # GLOBAL
                module = stream.readline()[:-1].decode('utf-8')
                name = stream.readline()[:-1].decode('utf-8')
                if (module, name) in NAME_MAPPING:  # as torch maps Python 2 names
                    module, name = NAME_MAPPING[(module, name)]
                elif module in IMPORT_MAPPING:
                    module = IMPORT_MAPPING[module]
                stack.append(_Glob(f'{module}.{name}'))
            elif op == b'R':  # REDUCE
                args = stack.pop()
                stack[-1] = self._call(stack[-1], args, 'REDUCE')
            elif op == b'\x81':  # NEWOBJ
                args = stack.pop()
                stack[-1] = self._call(stack[-1], args, 'NEWOBJ')
            elif op == b'b':  # BUILD
                state = stack.pop()
                self._build(stack[-1], state)
            elif op == b'a':  # APPEND
                stack.pop()
                _grow(stack[-1], 1)
            elif op in (b'e', b'u'):  # APPENDS, SETITEMS
                n = len(pop_mark())
                _grow(stack[-1], n if op == b'e' else n // 2)
            elif op == b's':  # SETITEM
                del stack[-2:]
                _grow(stack[-1], 1)
            elif op == b'(':  # MARK
                marks.append(stack)
                stack = []
            elif op == b't':
                items = pop_mark()  # before naming `stack`: pop_mark rebinds it
                stack.append(_Tuple(items))
            elif op in (b'\x85', b'\x86', b'\x87'):  # TUPLE1-3
                n = op[0] - 0x84
                items = stack[-n:]
                del stack[-n:]
                stack.append(_Tuple(items))
            elif op == b')':
                stack.append(_Tuple([]))
            elif op in (b']', b'}', b'\x8f'):  # EMPTY_LIST, EMPTY_DICT, EMPTY_SET
                stack.append(_Box())
            elif op in (b'N', b'\x88', b'\x89'):
                stack.append(_OTHER)
            elif op == b'J':
                stack.append(_Int(struct.unpack('<i', read(stream, 4))[0]))
            elif op == b'K':
                stack.append(_Int(read(stream, 1)[0]))
            elif op == b'M':
                stack.append(_Int(struct.unpack('<H', read(stream, 2))[0]))
            elif op == b'G':
                read(stream, 8)
                stack.append(_OTHER)
            elif op == b'X':  # BINUNICODE
                stack.append(self._text(stream, struct.unpack('<I', read(stream, 4))[0]))
            elif op == b'U':  # SHORT_BINSTRING
                stack.append(self._text(stream, read(stream, 1)[0]))
            elif op == b'Q':  # BINPERSID
                pid = stack.pop()
                self._persistent(pid)
                stack.append(_OTHER)
            elif op in (b'h', b'j'):  # BINGET, LONG_BINGET
                idx = read(stream, 1)[0] if op == b'h' else \
                    struct.unpack('<I', read(stream, 4))[0]
                stack.append(memo.get(idx, _OTHER))
            elif op in (b'q', b'r'):  # BINPUT, LONG_BINPUT
                idx = read(stream, 1)[0] if op == b'q' else \
                    struct.unpack('<I', read(stream, 4))[0]
                memo[idx] = stack[-1]
            elif op == b'\x8a':  # LONG1
                data = read(stream, read(stream, 1)[0])
                stack.append(_Int(int.from_bytes(data, 'little', signed=True)))
            elif op == b'\x80':  # PROTO
                read(stream, 1)
            elif op == b'.':  # STOP
                return
            else:
                raise _Stop  # torch refuses this opcode itself


def _grow(target: Any, n: int) -> None:
    if isinstance(target, _Box):
        target.count += n


class _Stop(Exception):
    """The walk cannot go on where torch's unpickler refuses too."""


def _zip_pickle(source: BinaryIO, size: int) -> Tuple[zipfile.ZipFile, str]:
    archive = zipfile.ZipFile(source)
    infos = archive.infolist()
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Refusal(f'its zip record {info.filename!r} is compressed; torch.save '
                           'stores records uncompressed, and a compressed record can '
                           'expand to more than the file holds')
        if info.file_size > size:
            raise _Refusal(f'its zip record {info.filename!r} claims {info.file_size} '
                           f'bytes, more than the whole file ({size} bytes)')
    prefix = infos[0].filename.split('/')[0] if infos else ''
    return archive, f'{prefix}/data.pkl'


def checkpoint_scan_problem(source: BinaryIO, size: int) -> Optional[str]:
    """Why the pickles of a torch checkpoint would allocate more than the file carries.

    Args:
        source (BinaryIO): the checkpoint, opened for binary reading and seekable
            (a file or ``io.BytesIO``); read from its start.
        size (int): the checkpoint's size in bytes.

    Returns:
        str | None: a reason (to follow ``'Refused to load checkpoint X: '``), or None.
    """
    source.seek(0)
    legacy = source.read(4) != b'PK\x03\x04'
    source.seek(0)
    scanner = _Scanner(size + SLACK_BYTES, legacy)
    try:
        if legacy:
            for _ in range(5):  # magic, protocol, sys_info, the object, storage keys
                scanner.scan(source)
        else:
            archive, name = _zip_pickle(source, size)
            with archive, archive.open(name) as stream:
                scanner.scan(stream)
    except _Refusal as refusal:
        return str(refusal)
    except (_Stop, EOFError, IndexError, KeyError, ValueError, struct.error,
            UnicodeDecodeError, zipfile.BadZipFile):
        return None  # malformed: torch.load refuses it with its own words
    finally:
        source.seek(0)
    return None
