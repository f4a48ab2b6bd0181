"""Crafted checkpoints, written opcode by opcode, and a child-process loader for them.

Each case of :data:`CORPUS` is a pickle fragment (protocol 2 opcodes, as ``torch.save``
writes) that pushes one object; :func:`write_checkpoint` puts it at ``meta`` of an
otherwise normal checkpoint (a torch zip with a real tensor), as an attacker would.

Run as a script (``python crafted_pickles.py FOLDER OUT.jsonl CONFIG``), this module
imports fcn_mm once (noting torch's weights_only allow-list before and after, and after
one fcn_mm load), then loads every ``*.pth`` of FOLDER in each mode, each load in its own
forked child, and writes one JSON line per load: the child's exit status or signal, its
peak memory (``ru_maxrss``, also as seen by the child before and after the load, after
a warm-up load of a small benign file for :data:`MEMORY_CASES` in the fcn_mm and mmengine
modes), whether the load was refused and with which message. Modes:
``fcn_mm`` (load_checkpoint_file), ``mmengine`` (mmengine's load_checkpoint into a
model), ``init_model`` (fcn_mm.apis.init_model(CONFIG, checkpoint)), ``torch`` (plain
``torch.load(weights_only=True)`` after importing fcn_mm, register_all_modules and
building a model) and ``numpy_allow_list`` (plain ``torch.load`` with numpy's own dtype,
ndarray and _reconstruct allowed, as fcn_mm once did: shows that the corpus bites). A child whose load succeeds reads every value it got (repr), so
memory handed out by a bad rebuild is touched.
"""
import json
import os
import pickle
import resource
import struct
import sys
import types
from typing import Callable, Dict, Tuple

import torch

P = pickle


class Raw:
    """Stands for raw opcodes inside an object given to :func:`write_checkpoint`."""

    def __init__(self, ops: bytes):
        self.ops = ops


class _RawPickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Raw):
            self.write(obj.ops)
            return
        super().save(obj, save_persistent_id)


_raw_module = types.ModuleType('raw_pickle')
_raw_module.Pickler = _RawPickler


def write_checkpoint(path: str, ops: bytes) -> str:
    """A torch zip checkpoint whose ``meta`` is the object that ``ops`` pushes."""
    obj = {'state_dict': {'w': torch.arange(4.0)}, 'meta': Raw(ops)}
    torch.save(obj, path, pickle_module=_raw_module)
    return path


# ---- opcode helpers (each returns the bytes that push one value) ----
def glob(module: str, name: str) -> bytes:
    return P.GLOBAL + f'{module}\n{name}\n'.encode()


def num(n: int) -> bytes:
    if 0 <= n < 256:
        return P.BININT1 + bytes([n])
    if -2 ** 31 <= n < 2 ** 31:
        return P.BININT + struct.pack('<i', n)
    data = pickle.encode_long(n)
    return P.LONG1 + bytes([len(data)]) + data


def text(s: str) -> bytes:
    data = s.encode('utf-8', 'surrogatepass')
    return P.BINUNICODE + struct.pack('<I', len(data)) + data


def raw_bytes(data: bytes) -> bytes:
    """bytes as protocol 2 writes them: _codecs.encode(latin1 text) or bytes()."""
    if not data:
        return glob('builtins', 'bytes') + P.EMPTY_TUPLE + P.REDUCE
    return glob('_codecs', 'encode') + tup(text(data.decode('latin1')), text('latin1')) \
        + P.REDUCE


def tup(*items: bytes) -> bytes:
    return P.MARK + b''.join(items) + P.TUPLE


def lst(*items: bytes) -> bytes:
    return P.EMPTY_LIST + (P.MARK + b''.join(items) + P.APPENDS if items else b'')


def dct(*pairs: Tuple[bytes, bytes]) -> bytes:
    return P.EMPTY_DICT + (P.MARK + b''.join(k + v for k, v in pairs) + P.SETITEMS
                           if pairs else b'')


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + P.REDUCE


def build(obj: bytes, state: bytes) -> bytes:
    return obj + state + P.BUILD


def put(i: int) -> bytes:
    return P.LONG_BINPUT + struct.pack('<I', 1000 + i)


def get(i: int) -> bytes:
    return P.LONG_BINGET + struct.pack('<I', 1000 + i)


NONE, TRUE, FALSE = P.NONE, P.NEWTRUE, P.NEWFALSE
MULTIARRAY = 'numpy._core.multiarray'
PLAIN_STATE = (3, '<', None, None, None, -1, -1, 0)


def _value(v) -> bytes:
    if v is None:
        return NONE
    if isinstance(v, bool):
        return TRUE if v else FALSE
    if isinstance(v, int):
        return num(v)
    if isinstance(v, str):
        return text(v)
    if isinstance(v, bytes):
        return v  # already opcodes
    if isinstance(v, tuple):
        return tup(*map(_value, v))
    raise TypeError(v)


def dtype(code: str, state=PLAIN_STATE) -> bytes:
    """numpy.dtype(code, False, True) with a BUILD state (a tuple of plain values/opcodes)."""
    made = call(glob('numpy', 'dtype'), text(code), FALSE, TRUE)
    return made if state is None else build(made, _value(state))


def array(shape: Tuple[int, ...], dtype_ops: bytes, data: bytes = b'',
          data_ops: bytes = None, subtype: bytes = None) -> bytes:
    """_reconstruct(ndarray, (0,), b'b') + BUILD (1, shape, dtype, False, data).

    ``data_ops`` (opcodes) replaces ``data`` (raw bytes), e.g. the list of an object array.
    """
    made = call(glob(MULTIARRAY, '_reconstruct'), subtype or glob('numpy', 'ndarray'),
                tup(num(0)), raw_bytes(b'b'))
    state = tup(num(1), tup(*map(num, shape)), dtype_ops, FALSE,
                data_ops if data_ops is not None else raw_bytes(data))
    return build(made, state)


def scalar(dtype_ops: bytes, data: bytes) -> bytes:
    return call(glob(MULTIARRAY, 'scalar'), dtype_ops, data)


HB = ('mmengine.logging.history_buffer', 'HistoryBuffer')


def history_buffer(methods: Dict[str, str], extra: Tuple[bytes, bytes] = None,
                   log: bytes = None, max_length: bytes = None) -> bytes:
    """A HistoryBuffer with log [1, 3], counts [1, 1] and a statistics table.

    ``log`` and ``max_length`` (opcodes) replace the log array and ``num(1000000)``.
    """
    f8, i8 = dtype('f8'), dtype('i8')
    log = log or array((2,), f8, struct.pack('<2d', 1.0, 3.0))
    count = array((2,), i8, struct.pack('<2q', 1, 1))
    table = dct(*[(text(k), call(glob('builtins', 'getattr'), get(0), text(v)))
                  for k, v in methods.items()])
    pairs = [(text('max_length'), max_length or num(1000000)), (text('_log_history'), log),
             (text('_count_history'), count), (text('statistics_methods'), table)]
    if extra:
        pairs.append(extra)
    return glob(*HB) + put(0) + P.EMPTY_TUPLE + P.NEWOBJ + dct(*pairs) + P.BUILD


OWN_METHODS = {m: m for m in ('min', 'max', 'current', 'mean')}
POINTERS = struct.pack('<2Q', 0x4141414141414141, 0x4242424242424242)
OBJECT_FIELD_STATE = (3, '|', None, tup(text('a')),
                      dct((text('a'), tup(dtype('O8', (3, '|', None, None, None, -1, -1, 63)),
                                          num(0)))), 8, 1, 0)


MEMO_DATA_BYTES = 4 * 2 ** 20  # the issue's probe: a 4.2 MB file, 25 arrays over one bytes
MEMO_ARRAYS = 25


def memo_shared_array_data() -> bytes:
    """25 float64 arrays whose data is one memoised bytes object of 4 MiB."""
    data = raw_bytes(b'\x00' * MEMO_DATA_BYTES) + put(1)
    f8 = dtype('f8') + put(2)
    shape = (MEMO_DATA_BYTES // 8,)
    arrays = [array(shape, get(2), data_ops=get(1)) for _ in range(MEMO_ARRAYS - 1)]
    return lst(array(shape, f8, data_ops=data), *arrays)


def _marker_code(marker: str) -> str:
    return f'open({marker!r}, "w").write("ran")'


# name -> (ops builder taking the marker path, fragment of fcn_mm's refusal message)
CORPUS: Dict[str, Tuple[Callable[[str], bytes], str]] = {
    # the issue's first paragraph: V8 dtype + __setstate__ with an object field, then
    # an array of it from raw bytes (the cells would be pointers chosen by the file)
    'object_field_dtype_array': (
        lambda m: array((2,), dtype('V8', OBJECT_FIELD_STATE), POINTERS),
        "numpy dtype 'V8' is refused (a void/structured dtype"),
    'object_field_dtype_alone': (
        lambda m: dtype('V8', OBJECT_FIELD_STATE), "numpy dtype 'V8' is refused"),
    'plain_code_with_fields_state': (
        lambda m: array((2,), dtype('f8', (3, '|', None, tup(text('a')), dct(
            (text('a'), tup(dtype('f8'), num(0)))), 8, 1, 0)), POINTERS), 'with fields'),
    'structured_dtype_from_list': (
        lambda m: call(glob('numpy', 'dtype'), lst(tup(text('a'), text('O'))), FALSE, TRUE),
        'a dtype is named by a string'),
    'subarray_dtype_state': (
        lambda m: dtype('f8', (3, '|', tup(dtype('f8'), tup(num(2))), None, None, 16, 8, 0)),
        'with a subarray'),
    'object_array_raw_bytes': (
        lambda m: array((2,), dtype('O8', (3, '|', None, None, None, -1, -1, 63)), POINTERS),
        "numpy dtype 'O8' is refused (an object dtype"),
    'object_array_of_objects': (
        lambda m: array((1,), dtype('O8', (3, '|', None, None, None, -1, -1, 63)),
                        data_ops=lst(call(glob('builtins', 'eval'), text(_marker_code(m))))),
        "numpy dtype 'O8' is refused"),
    'dtype_flags_refcount': (
        lambda m: dtype('i8', (3, '<', None, None, None, -1, -1, 63)),
        'elsize/alignment/flags'),
    'object_scalar': (
        lambda m: scalar(dtype('O8', (3, '|', None, None, None, -1, -1, 63)),
                         lst(text('x'))), "numpy dtype 'O8' is refused"),
    'void_scalar': (
        lambda m: scalar(dtype('V8', (3, '|', None, None, None, 8, 1, 0)),
                         raw_bytes(POINTERS[:8])), "numpy dtype 'V8' is refused"),
    'scalar_of_wrong_size': (
        lambda m: scalar(dtype('f8'), raw_bytes(b'\x00' * 4)), 'expected 8 bytes'),
    'bool_array_with_byte_2': (
        lambda m: array((2,), dtype('b1', (3, '|', None, None, None, -1, -1, 0)),
                        b'\x01\x02'), 'bytes other than 0 and 1'),
    'shape_bytes_mismatch': (
        lambda m: array((4,), dtype('f4'), b'\x00' * 8),
        'needs 16 bytes of data, the checkpoint gives 8'),
    'declared_shape_1e12': (
        lambda m: array((10 ** 12,), dtype('f4'), b'\x00' * 16),
        'needs 4000000000000 bytes of data, the checkpoint gives 16'),
    'declared_shape_1e6_by_1e6': (
        lambda m: array((10 ** 6, 10 ** 6), dtype('f8'), b'\x00' * 16),
        'the checkpoint gives 16'),
    'zero_size_but_too_large': (
        lambda m: array((0, 2 ** 62, 2 ** 62), dtype('f8'), b''), 'too large to exist'),
    'negative_shape': (
        lambda m: array((-1,), dtype('f4'), b''), 'non-negative ints'),
    'array_state_twice': (
        lambda m: array((2,), dtype('f8'), b'\x00' * 16)
        + tup(num(1), tup(num(2)), dtype('f8'), FALSE, raw_bytes(POINTERS)) + P.BUILD,
        'second state'),
    'ndarray_constructor': (
        lambda m: call(glob('numpy', 'ndarray'), tup(num(10 ** 12)), dtype('f4')),
        'numpy.ndarray(...) is refused'),
    'reconstruct_other_subtype': (
        lambda m: array((1,), dtype('f8'), b'\x00' * 8,
                        subtype=glob('collections', 'OrderedDict')),
        'only plain numpy.ndarray'),
    'placeholder_class_directly': (
        lambda m: build(glob('fcn_mm.utils.numpy_rebuild', 'NumpyArrayInProgress')
                        + P.EMPTY_TUPLE + P.NEWOBJ,
                        tup(num(1), tup(num(2)), dtype('f8'), FALSE,
                            raw_bytes(b'\x00' * 16))),
        '_reconstruct did not make'),
    'bytes_of_length_1e12': (
        lambda m: call(glob('builtins', 'bytes'), num(10 ** 12)), 'only bytes()'),
    'bound_method_register_statistics': (
        lambda m: call(call(glob('builtins', 'getattr'), glob(*HB),
                            text('register_statistics')), glob('builtins', 'eval')),
        "builtins.getattr(HistoryBuffer, 'register_statistics') is refused"),
    'bound_method_ordereddict_fromkeys': (
        lambda m: call(call(glob('builtins', 'getattr'), glob('collections', 'OrderedDict'),
                            text('fromkeys')), lst(text('a'))),
        "'fromkeys') is refused"),
    'getattr_function_globals': (
        lambda m: call(glob('builtins', 'getattr'), glob(MULTIARRAY, 'scalar'),
                       text('__globals__')), "'__globals__') is refused"),
    'getattr_history_buffer_module_path': (
        lambda m: call(glob('builtins', 'getattr'),
                       call(glob('builtins', 'getattr'), glob(*HB), text('__init__')),
                       text('__globals__')), "'__init__') is refused"),
    'getattr_on_module': (
        lambda m: call(glob('builtins', 'getattr'), glob('numpy', 'random'), text('seed')),
        "'numpy.random'"),
    'history_buffer_instance_statistics': (
        lambda m: history_buffer(OWN_METHODS, (text('_statistics_methods'), dct())),
        'HistoryBuffer state with keys'),
    'history_buffer_constructor_call': (
        lambda m: call(glob(*HB), lst(), lst()), 'HistoryBuffer created with arguments'),
    # the issue's loader paragraph: allocations the file does not carry
    'memo_shared_array_data': (
        lambda m: memo_shared_array_data(), 'bytes of numpy array data, more than the file'),
    'bytearray_2e8': (
        lambda m: call(glob('builtins', 'bytearray'), num(2 * 10 ** 8)),
        'calls builtins.bytearray (REDUCE)'),
    'bytearray_py2_name': (
        lambda m: call(glob('__builtin__', 'bytearray'), num(2 * 10 ** 8)),
        'calls builtins.bytearray'),
    'bytearray_newobj': (
        lambda m: glob('builtins', 'bytearray') + tup(num(2 * 10 ** 8)) + P.NEWOBJ,
        'calls builtins.bytearray (NEWOBJ)'),
    'encode_of_one_text_many_times': (
        lambda m: text('x' * 2 ** 16) + put(3) + lst(*[
            call(glob('_codecs', 'encode'), get(3), text('latin1')) for _ in range(40)]),
        'bytes made by _codecs.encode'),
    'encode_to_utf32': (
        lambda m: call(glob('_codecs', 'encode'), text('abc'), text('utf-32')),
        "other than (text, 'latin1')"),
    'tensor_class_from_int': (
        lambda m: call(glob('torch', 'FloatTensor'), num(10 ** 6)), 'calls torch.FloatTensor'),
    'torch_tensor_from_int': (
        lambda m: glob('torch', 'Tensor') + tup(num(10 ** 6)) + P.NEWOBJ,
        'calls torch.Tensor (NEWOBJ)'),
    'untyped_storage_from_int': (
        lambda m: call(glob('torch.storage', 'UntypedStorage'), num(10 ** 6)),
        'calls torch.storage.UntypedStorage'),
    'qtensor_of_declared_size': (
        lambda m: call(glob('torch._utils', '_rebuild_qtensor'), NONE, num(0),
                       tup(num(10 ** 5), num(10 ** 5)), tup(num(10 ** 5), num(1)), NONE,
                       FALSE, dct()), 'calls torch._utils._rebuild_qtensor'),
    'rebuild_from_type_around_tensor_class': (
        lambda m: call(glob('torch._tensor', '_rebuild_from_type_v2'),
                       glob('torch', 'FloatTensor'), glob('torch', 'Tensor'),
                       tup(num(10 ** 6)), dct()),
        'calls torch.FloatTensor (inside _rebuild_from_type_v2)'),
    'size_from_one_tuple_many_times': (
        lambda m: tup(*[num(1)] * 20000) + put(4) + lst(*[
            call(glob('torch', 'Size'), get(4)) for _ in range(30)]),
        'container elements copied into calls'),
    'set_from_text': (
        lambda m: call(glob('builtins', 'set'), text('abcdef')), 'from a text or bytes'),
    'dtype_placeholder_directly': (
        lambda m: glob('fcn_mm.utils.numpy_rebuild', 'NumpyDtypeInProgress')
        + P.EMPTY_TUPLE + P.NEWOBJ, 'numpy.dtype(...) did not make'),
    'history_buffer_complex_log': (
        lambda m: history_buffer(OWN_METHODS, log=array(
            (2,), dtype('c16'), struct.pack('<4d', 1.0, 0.0, 3.0, 0.0))),
        "_log_history of dtype '<c16' is refused"),
    'history_buffer_big_endian_log': (
        lambda m: history_buffer(OWN_METHODS, log=array(
            (2,), dtype('f8', (3, '>', None, None, None, -1, -1, 0)),
            struct.pack('>2d', 1.0, 3.0))), "_log_history of dtype '>f8' is refused"),
    'history_buffer_max_length_1e30': (
        lambda m: history_buffer(OWN_METHODS, max_length=num(10 ** 30)),
        'max_length 1000000000000000000000000000000 is refused'),
    'history_buffer_max_length_float': (
        lambda m: history_buffer(OWN_METHODS, max_length=P.BINFLOAT + struct.pack('>d', 1e30)),
        'max_length 1e+30 is refused'),
    'os_system': (
        lambda m: call(glob('os', 'system'), text(f'touch {m}')), "'os.system'"),
    'posix_system': (
        lambda m: call(glob('posix', 'system'), text(f'touch {m}')), "'posix.system'"),
    'builtins_eval': (
        lambda m: call(glob('builtins', 'eval'), text(_marker_code(m))), "'builtins.eval'"),
    'builtins_exec': (
        lambda m: call(glob('builtins', 'exec'), text(_marker_code(m))), "'builtins.exec'"),
    'subprocess_popen': (
        lambda m: call(glob('subprocess', 'Popen'), lst(text('touch'), text(m))),
        "'subprocess.Popen'"),
}


def write_corpus(folder: str, marker: str) -> Dict[str, str]:
    """Write every case as ``<folder>/<name>.pth``; returns name -> path."""
    paths = {}
    for name, (make, _) in CORPUS.items():
        paths[name] = write_checkpoint(os.path.join(folder, f'{name}.pth'), make(marker))
    return paths


# ---- the child-process loader ----
ISSUE_CASE = 'object_field_dtype_array'
# files whose peak memory is checked against their size: (peak - baseline) < 2 x size
MEMORY_CASES = ('memo_shared_array_data', 'bytearray_2e8')
# what plain torch.load(weights_only=True) admits itself: only fcn_mm's scan refuses these
TORCH_ADMITS = ('bytearray_2e8', 'bytearray_py2_name', 'bytearray_newobj',
                'encode_of_one_text_many_times', 'encode_to_utf32', 'tensor_class_from_int',
                'torch_tensor_from_int', 'untyped_storage_from_int',
                'qtensor_of_declared_size', 'rebuild_from_type_around_tensor_class',
                'size_from_one_tuple_many_times', 'set_from_text')
# modes that run a part of the corpus only (init_model builds a model per child)
MODE_CASES = {'init_model': (ISSUE_CASE, 'object_field_dtype_alone', 'builtins_eval',
                             'declared_shape_1e12', 'getattr_function_globals',
                             'bytearray_2e8'),
              'numpy_allow_list': (ISSUE_CASE, 'object_field_dtype_alone'),
              'torch': tuple(sorted(set(CORPUS) - set(TORCH_ADMITS)))}
MODES = ('fcn_mm', 'mmengine', 'init_model', 'torch', 'numpy_allow_list')


def _allow_numpy_rebuilders() -> None:
    """What fcn_mm once registered for every torch.load: numpy's own rebuilders."""
    import numpy as np
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    dtype_classes = [type(np.dtype(c)) for c in np.typecodes['All']]
    torch.serialization.add_safe_globals(
        [np.ndarray, np.dtype, (reconstruct, f'{MULTIARRAY}._reconstruct')] + dtype_classes)


def _loaders(config: str) -> Dict[str, Callable[[str], object]]:
    from mmengine.runner.checkpoint import load_checkpoint

    from fcn_mm.apis import init_model
    from fcn_mm.utils.safe_loading import load_checkpoint_file

    def numpy_allow_list(path):
        _allow_numpy_rebuilders()  # in the child only
        return torch.load(path, weights_only=True)

    return dict(
        fcn_mm=load_checkpoint_file,
        mmengine=lambda path: load_checkpoint(torch.nn.Linear(4, 1), path, strict=False),
        init_model=lambda path: init_model(config, checkpoint=path, device='cpu'),
        torch=lambda path: torch.load(path, weights_only=True),
        numpy_allow_list=numpy_allow_list)


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(load: Callable[[str], object], path: str, out: str, warm_up: str = None) -> None:
    if warm_up:  # one small benign load first: lazy imports and caches of the loader
        load(warm_up)
    baseline = _maxrss_kib()  # this child's peak before the load (the interpreter's)
    try:
        result = load(path)
        record = dict(refused=False, error=None, message=repr(result)[:2000])
    except Exception as e:  # noqa: BLE001 (the record says what was raised)
        record = dict(refused=True, error=type(e).__name__, message=str(e))
    record.update(baseline_kib=baseline, peak_kib=_maxrss_kib(),
                  file_bytes=os.path.getsize(path))
    with open(out, 'w') as f:
        json.dump(record, f)


def _in_child(load: Callable[[str], object], path: str, result_file: str,
              warm_up: str = None) -> dict:
    """Load ``path`` in a forked child; its exit status, signal, peak memory and result.

    The child notes its peak memory (``ru_maxrss``) before and after the load, after
    loading ``warm_up`` (a small benign checkpoint) if given.
    """
    if os.path.exists(result_file):
        os.remove(result_file)
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            _child(load, path, result_file, warm_up)
        finally:
            os._exit(0)
    _, status, usage = os.wait4(pid, 0)
    record = dict(exit_code=os.waitstatus_to_exitcode(status),
                  signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  maxrss_mib=usage.ru_maxrss / 1024)
    if os.path.isfile(result_file):
        with open(result_file) as f:
            record.update(json.load(f))
    return record


def _ids() -> set:
    return {id(g) for g in torch.serialization.get_safe_globals()}


def main(argv) -> None:
    folder, out_path, config = argv[:3]
    torch.set_num_threads(1)
    import mmengine.runner  # noqa: F401  (what fcn_mm imports, before fcn_mm)
    import numpy as np
    before = _ids()
    import fcn_mm  # noqa: F401
    from fcn_mm.registry import MODELS
    from fcn_mm.utils import register_all_modules
    register_all_modules()
    MODELS.build(dict(type='CrossEntropyLoss'))
    loaders = _loaders(config)
    after_import = torch.serialization.get_safe_globals()
    benign = os.path.join(folder, 'benign.ckpt')
    torch.save(dict(a=np.arange(3)), benign)
    loaded = loaders['fcn_mm'](benign)['a'].tolist()
    allow_list = dict(
        added_modules=sorted(str(getattr(g, '__module__', g)) for g in after_import
                             if id(g) not in before),
        unchanged_by_load=_ids() == {id(g) for g in after_import}, benign=loaded)
    with open(out_path, 'w') as out:
        out.write(json.dumps(dict(allow_list=allow_list)) + '\n')
        names = sorted(n[:-4] for n in os.listdir(folder) if n.endswith('.pth'))
        for mode in MODES:
            for case in MODE_CASES.get(mode, names):
                record = _in_child(loaders[mode], os.path.join(folder, f'{case}.pth'),
                                   os.path.join(folder, f'{case}.{mode}.json'),
                                   benign if case in MEMORY_CASES
                                   and mode in ('fcn_mm', 'mmengine') else None)
                out.write(json.dumps(dict(record, mode=mode, case=case)) + '\n')
                out.flush()


if __name__ == '__main__':
    main(sys.argv[1:])
