"""Reading a krr model file without running a pickle, at a bounded cost.

A model file is what ``joblib.dump`` writes, uncompressed, for one dict of plain
values and float arrays: a pickle stream (protocol 2 to 5) in which each numpy
array is a ``joblib.numpy_pickle.NumpyArrayWrapper`` followed, in the file, by
the array's raw bytes.

``pickle.load`` would run whatever the stream asks for. This module reads the
stream with its own small pickle machine instead. It knows only the operations
such a file uses; it builds only text, numbers, booleans, None, tuples, lists,
dicts with text keys and float arrays; it calls nothing. Every length the file
declares is checked against the bytes left in the file before anything is
allocated, arrays also against the memory available, and the number of
operations and items is capped (:mod:`krrcli.limits`). So any file, malicious
or damaged, costs at most a few seconds and about its own size in memory.
"""

from __future__ import annotations

import os
import struct
from typing import IO, Any

import numpy as np

from ..limits import MAX_COLUMNS, MAX_MODEL_TEXT_BYTES


class UnsafeModelFile(Exception):
    """The file asks for something a krr model never contains (code, objects, other types)."""


class CorruptModelFile(Exception):
    """The file is not a readable pickle stream: truncated, garbled, or not a pickle at all."""


class TextFile(CorruptModelFile):
    """The file starts as plain text (a CSV given where the model was expected, say)."""


_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


class ForeignFile(Exception):
    """A joblib file of something other than a krr model record (a bare array, say)."""


# Items (container elements and stored back-references) and operations one file may hold:
# a model has a few dozen values plus its feature and target names, each stored once.
MAX_ITEMS = 2 * MAX_COLUMNS + 10_000
MAX_OPERATIONS = 3 * MAX_ITEMS + 10_000
# Values waiting on the stack (pickle adds dict and list items in batches of 1,000) and open marks.
MAX_STACK = 10_000
MAX_MARKS = 100
# The arrays of a model, each stored at most once, as a value of the record.
ARRAY_KEYS = (
    "centers",
    "dual_coef",
    "coef",
    "mean",
    "scale",
    "intercept",
    "factor_L",
    "factor_scale",
    "factor_u",
    "factor_T",
    "factor_R",
    "noise_var",
    "feature_means",
    "X_fit",  # X_fit: format version 1
)

_COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ": "xz",
    b"]\x00\x00": "lzma",
    b'\x04"M\x18': "lz4",
    b"ZF": "zlib (an old joblib format)",
}


class _Global:
    """A name the stream may refer to; never called, only recognised."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


_WRAPPER = _Global("joblib.numpy_pickle", "NumpyArrayWrapper")
_NDARRAY = _Global("numpy", "ndarray")
_DTYPE = _Global("numpy", "dtype")
_GLOBALS = {(g.module, g.name): g for g in (_WRAPPER, _NDARRAY, _DTYPE)}


class _PendingArray:
    """``NumpyArrayWrapper()`` before its state: the array is read when the state arrives."""


class _Dtype:
    """``numpy.dtype('f8', False, True)``; its byte order comes with its state."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.order: str | None = None

    def resolve(self) -> np.dtype:
        if self.order is None:
            raise CorruptModelFile("an array's dtype has no byte order")
        return np.dtype(self.code).newbyteorder(self.order)


class _Stream:
    """The file's bytes: pickle frames first, then the file; no read beyond its end."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.size = size
        self.pos = 0  # in the file
        self.frame = b""
        self.frame_pos = 0

    def left(self) -> int:
        return self.size - self.pos

    def read(self, n: int) -> bytes:
        if self.frame_pos < len(self.frame):
            end = self.frame_pos + n
            if end > len(self.frame):
                raise CorruptModelFile("a pickle frame ends inside a value")
            data = self.frame[self.frame_pos : end]
            self.frame_pos = end
            return data
        return self.read_file(n)

    def read_file(self, n: int) -> bytes:
        if n > self.size - self.pos:
            raise EOFError
        data = self.fh.read(n)
        if len(data) < n:
            raise EOFError
        self.pos += n
        return data

    def read_frame(self, n: int) -> None:
        if self.frame_pos < len(self.frame):
            raise CorruptModelFile("a pickle frame starts inside another")
        self.frame = self.read_file(n)
        self.frame_pos = 0

    def readline(self, limit: int = 256) -> bytes:
        out = bytearray()
        while True:
            c = self.read(1)
            if c == b"\n":
                return bytes(out)
            out += c
            if len(out) > limit:
                raise CorruptModelFile("a name in the pickle stream is too long")

    def read_array(self, dtype: np.dtype, count: int) -> np.ndarray:
        if self.frame_pos < len(self.frame):
            raise CorruptModelFile("an array's data starts inside a pickle frame")
        nbytes = count * dtype.itemsize
        if nbytes > self.size - self.pos:
            raise EOFError
        arr = np.empty(count, dtype=dtype)
        view = memoryview(arr).cast("B")
        got = 0
        while got < nbytes:
            k = self.fh.readinto(view[got:])
            if not k:
                raise EOFError
            got += k
        self.pos += nbytes
        return arr


def _check_array_state(state: Any, key: Any, seen: set[str], left: int) -> tuple[np.dtype, tuple[int, ...], str, int]:
    """The wrapper's state: which array, of what dtype and shape; refuse anything else."""
    if (
        not isinstance(state, dict)
        or not {"subclass", "shape", "order", "dtype"} <= set(state)
        or not set(state)
        <= {
            "subclass",
            "shape",
            "order",
            "dtype",
            "allow_mmap",
            "numpy_array_alignment_bytes",
        }
    ):
        raise CorruptModelFile("an array has no valid description")
    if state["subclass"] is not _NDARRAY:
        raise UnsafeModelFile("it holds an array of a class other than numpy.ndarray")
    dtype_obj = state["dtype"]
    if not isinstance(dtype_obj, _Dtype):
        raise CorruptModelFile("an array has no valid dtype")
    dtype = dtype_obj.resolve()
    if type(key) is not str:
        raise ForeignFile("it holds an array outside a model record")
    if key not in ARRAY_KEYS:
        raise UnsafeModelFile(
            f"it holds an array as {_name(key)}, where a krr model holds none (arrays: {', '.join(ARRAY_KEYS)})"
        )
    if key in seen:
        raise UnsafeModelFile(f"it holds array {key!r} twice")
    seen.add(key)
    shape = state["shape"]
    if (
        type(shape) is not tuple
        or not 1 <= len(shape) <= 2
        or not all(type(s) is int and s >= 0 for s in shape)
        or type(state["order"]) is not str
        or state["order"] not in ("C", "F")
    ):
        raise UnsafeModelFile(f"array {key!r} has shape {_name(shape)}; a krr model's arrays are 1-D or 2-D")
    align = state.get("numpy_array_alignment_bytes")
    if align is not None and (type(align) is not int or not 1 <= align <= 256):
        raise CorruptModelFile(f"array {key!r} has an invalid alignment")
    count = 1
    for s in shape:
        count *= s
    nbytes = count * dtype.itemsize
    # no dimension can be longer than the rest of the file holds (a zero in the other one included)
    if nbytes > left or max(shape) > max(1, left // dtype.itemsize):
        raise CorruptModelFile(
            f"array {key!r} declares shape {shape} ({_bytes(nbytes)}) but only {_bytes(left)} of the file follow"
        )
    return dtype, shape, state["order"], count


def _bytes(n: int) -> str:
    from ..resources import format_bytes

    return format_bytes(n)


def _name(value: Any) -> str:
    """A short description of a value from the file: never a walk over a structure it may hold."""
    if type(value) is str:
        return repr(value[:60]) + ("..." if len(value) > 60 else "")
    if type(value) in (int, float, bool) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:60] + "..."
    if type(value) is tuple and len(value) <= 4 and all(type(v) is int for v in value):
        return repr(value)
    if type(value) in (tuple, list, dict):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _opcode_name(code: int) -> str | None:
    import pickletools

    for op in pickletools.opcodes:
        if op.code == chr(code):
            return op.name
    return None


def read_joblib(path: str, memory_check: Any = None) -> Any:
    """Read the object of an uncompressed joblib file of plain data and float arrays.

    ``memory_check(nbytes, what)`` is called before each array is allocated (it may raise).
    Raises :class:`UnsafeModelFile`, :class:`CorruptModelFile`, :class:`ForeignFile`, ``EOFError`` (truncated)
    or ``OSError``.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8)
        fh.seek(0)
        kind = next((kind for magic, kind in _COMPRESSED.items() if head.startswith(magic)), None)
        # a zlib stream: CMF 0x78 and a header whose two bytes, big-endian, are a multiple of 31
        if kind is None and len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
            kind = "zlib"
        if kind is not None:
            raise UnsafeModelFile(
                f"it is compressed ({kind}); krr writes model files uncompressed and reads only those"
            )
        try:
            return _Machine(_Stream(fh, size), memory_check).run()
        except (CorruptModelFile, EOFError):
            if head and all(c in _TEXT_BYTES for c in head):  # not a pickle, and it reads as text
                raise TextFile(
                    "it is a text file, not a krr model (a CSV? the model comes first: krr predict MODEL DATA)"
                ) from None
            raise


class _Machine:
    """The pickle operations a joblib file of plain data uses; nothing else is known."""

    def __init__(self, stream: _Stream, memory_check: Any) -> None:
        self.s = stream
        self.memory_check = memory_check
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.items = 0
        self.text_bytes = 0
        self.arrays: set[str] = set()

    # -- helpers --------------------------------------------------------------
    def pop(self) -> Any:
        if not self.stack:
            raise CorruptModelFile("the pickle stack is empty where a value is needed")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise CorruptModelFile("the pickle stack is empty where a value is needed")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise CorruptModelFile("a pickle operation needs a mark that is not there")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise UnsafeModelFile(f"it holds more than {MAX_ITEMS:,} values, more than any krr model")

    def text(self, n: int) -> str:
        if n > MAX_MODEL_TEXT_BYTES:
            raise UnsafeModelFile(f"it holds a text of {n:,} bytes, longer than any in a krr model")
        if n > self.s.left() + len(self.s.frame) - self.s.frame_pos:
            raise EOFError
        self.text_bytes += n
        if self.text_bytes > 2 * MAX_MODEL_TEXT_BYTES + 2**20:
            raise UnsafeModelFile("it holds more text than any krr model")
        try:
            return self.s.read(n).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptModelFile("a text value is not valid UTF-8") from None

    # -- the loop -------------------------------------------------------------
    def run(self) -> Any:
        ops = _OPS
        read = self.s.read
        for _ in range(MAX_OPERATIONS):
            code = read(1)[0]
            handler = ops.get(code)
            if handler is None:
                name = _opcode_name(code)
                if name is None:
                    raise CorruptModelFile(f"byte 0x{code:02x} is not a pickle operation")
                raise UnsafeModelFile(f"it uses the pickle operation {name}, which a krr model never contains")
            if handler is _stop:
                if len(self.stack) != 1 or self.marks:
                    raise CorruptModelFile("the pickle stream ends with a broken stack")
                return self.stack[0]
            handler(self)
            if len(self.stack) > MAX_STACK or len(self.marks) > MAX_MARKS:
                raise UnsafeModelFile("its pickle stack grows deeper than any krr model's")
        raise UnsafeModelFile(f"it takes more than {MAX_OPERATIONS:,} pickle operations, more than any krr model")


# -- the operations ----------------------------------------------------------------
def _stop(m: _Machine) -> None:  # handled in the loop
    raise AssertionError


def _proto(m: _Machine) -> None:
    version = m.s.read(1)[0]
    if not 2 <= version <= 5:
        raise CorruptModelFile(f"pickle protocol {version} is not one joblib writes")


def _frame(m: _Machine) -> None:
    (n,) = struct.unpack("<Q", m.s.read(8))
    if n > m.s.left():
        raise EOFError
    m.s.read_frame(n)


def _mark(m: _Machine) -> None:
    m.marks.append(m.stack)
    m.stack = []


def _push(value: Any) -> Any:
    def op(m: _Machine) -> None:
        m.stack.append(value)

    return op


def _binint(m: _Machine) -> None:
    m.stack.append(struct.unpack("<i", m.s.read(4))[0])


def _binint1(m: _Machine) -> None:
    m.stack.append(m.s.read(1)[0])


def _binint2(m: _Machine) -> None:
    m.stack.append(struct.unpack("<H", m.s.read(2))[0])


def _long1(m: _Machine) -> None:
    n = m.s.read(1)[0]
    if n > 8:
        raise UnsafeModelFile("it holds an integer wider than 64 bits, which a krr model never contains")
    m.stack.append(int.from_bytes(m.s.read(n), "little", signed=True))


def _binfloat(m: _Machine) -> None:
    m.stack.append(struct.unpack(">d", m.s.read(8))[0])


def _short_binunicode(m: _Machine) -> None:
    m.stack.append(m.text(m.s.read(1)[0]))


def _binunicode(m: _Machine) -> None:
    m.stack.append(m.text(struct.unpack("<I", m.s.read(4))[0]))


def _binunicode8(m: _Machine) -> None:
    m.stack.append(m.text(struct.unpack("<Q", m.s.read(8))[0]))


def _empty_tuple(m: _Machine) -> None:
    m.stack.append(())


def _tuple_n(n: int) -> Any:
    def op(m: _Machine) -> None:
        if len(m.stack) < n:
            raise CorruptModelFile("the pickle stack is too short for a tuple")
        items = tuple(m.stack[-n:])
        del m.stack[-n:]
        m.count(n)
        m.stack.append(items)

    return op


def _tuple(m: _Machine) -> None:
    items = m.pop_mark()
    m.count(len(items))
    m.stack.append(tuple(items))


def _empty_list(m: _Machine) -> None:
    m.stack.append([])


def _empty_dict(m: _Machine) -> None:
    m.stack.append({})


def _append(m: _Machine) -> None:
    value = m.pop()
    target = m.top()
    if not isinstance(target, list):
        raise CorruptModelFile("an append to something that is not a list")
    m.count(1)
    target.append(value)


def _appends(m: _Machine) -> None:
    items = m.pop_mark()
    target = m.top()
    if not isinstance(target, list):
        raise CorruptModelFile("an append to something that is not a list")
    m.count(len(items))
    target.extend(items)


def _set_items(m: _Machine, items: list[Any]) -> None:
    target = m.top()
    if not isinstance(target, dict) or len(items) % 2:
        raise CorruptModelFile("a dict update on something that is not a dict")
    m.count(len(items) // 2)
    for i in range(0, len(items), 2):
        key = items[i]
        if type(key) is not str:
            raise UnsafeModelFile(f"it holds a dict key that is not text ({_name(key)}), which a krr model never has")
        target[key] = items[i + 1]


def _setitem(m: _Machine) -> None:
    value = m.pop()
    key = m.pop()
    _set_items(m, [key, value])


def _setitems(m: _Machine) -> None:
    _set_items(m, m.pop_mark())


def _remember(m: _Machine, index: int) -> None:
    value = m.top()
    if isinstance(value, np.ndarray):  # joblib stores its wrapper, never the array: it has one place only
        raise UnsafeModelFile("it refers back to an array, which a krr model never does")
    m.count(1)
    m.memo[index] = value


def _memoize(m: _Machine) -> None:
    _remember(m, len(m.memo))


def _put(size: str) -> Any:
    def op(m: _Machine) -> None:
        (i,) = struct.unpack(size, m.s.read(struct.calcsize(size)))
        _remember(m, i)

    return op


def _get(size: str) -> Any:
    def op(m: _Machine) -> None:
        (i,) = struct.unpack(size, m.s.read(struct.calcsize(size)))
        if i not in m.memo:
            raise CorruptModelFile("the pickle stream refers back to a value it never stored")
        m.stack.append(m.memo[i])

    return op


def _find(module: Any, name: Any) -> _Global:
    if type(module) is not str or type(name) is not str:
        raise CorruptModelFile("a name in the pickle stream is not text")
    found = _GLOBALS.get((module, name))
    if found is None:
        if (module, name) in (("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")):
            raise UnsafeModelFile("it is a plain pickle of numpy arrays, not a joblib file; krr never writes those")
        raise UnsafeModelFile(
            f"it refers to {_name(module)[1:-1]}.{_name(name)[1:-1]}, which a krr model never contains"
        )
    return found


def _global(m: _Machine) -> None:
    module = m.s.readline().decode("ascii", "replace")
    name = m.s.readline().decode("ascii", "replace")
    m.stack.append(_find(module, name))


def _stack_global(m: _Machine) -> None:
    name = m.pop()
    module = m.pop()
    m.stack.append(_find(module, name))


def _newobj(m: _Machine) -> None:
    args = m.pop()
    cls = m.pop()
    if cls is not _WRAPPER:
        raise UnsafeModelFile(f"it creates an object of {_describe(cls)}, which a krr model never contains")
    if type(args) is not tuple or args:
        raise CorruptModelFile("an array wrapper is created with arguments")
    m.stack.append(_PendingArray())


def _reduce(m: _Machine) -> None:
    args = m.pop()
    func = m.pop()
    if func is not _DTYPE:
        raise UnsafeModelFile(f"it calls {_describe(func)}, which a krr model never does")
    if not (type(args) is tuple and len(args) == 3 and type(args[0]) is str and args[1] is False and args[2] is True):
        raise CorruptModelFile("an array's dtype is not described as joblib describes it")
    if args[0].startswith("O"):
        raise UnsafeModelFile("it holds an array of Python objects, which a krr model never contains")
    if args[0] not in ("f8", "f4"):
        raise UnsafeModelFile(f"it holds an array of dtype {_name(args[0])}; a krr model's arrays hold floats")
    m.stack.append(_Dtype(args[0]))


def _describe(obj: Any) -> str:
    if isinstance(obj, _Global):
        return f"{obj.module}.{obj.name}"
    return f"a {type(obj).__name__} value"


def _build(m: _Machine) -> None:
    state = m.pop()
    target = m.top()
    if isinstance(target, _Dtype):
        # numpy's dtype state: (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if not (
            type(state) is tuple
            and len(state) == 8
            and all(type(v) is int for v in state[0:1] + state[5:8])
            and state[0] == 3
            and type(state[1]) is str
            and state[1] in ("<", ">", "=", "|")
            and state[2] is None
            and state[3] is None
            and state[4] is None
            and state[5:7] == (-1, -1)
        ):
            raise UnsafeModelFile("it holds an array of a structured or unusual dtype, which a krr model never has")
        if target.order is not None:
            raise CorruptModelFile("an array's dtype is described twice")
        target.order = "=" if state[1] == "|" else state[1]
        return
    if not isinstance(target, _PendingArray):
        raise UnsafeModelFile(f"it sets the state of {_describe(target)}, which a krr model never does")
    key = m.stack[-2] if len(m.stack) >= 2 else None
    dtype, shape, order, count = _check_array_state(state, key, m.arrays, m.s.left())
    if state.get("numpy_array_alignment_bytes") is not None:
        pad = m.s.read_file(1)[0]
        m.s.read_file(pad)
    if m.memory_check is not None:
        m.memory_check(count * dtype.itemsize, f"array {key!r} of the model file")
    arr = m.s.read_array(dtype, count)
    if not dtype.isnative:
        arr = arr.byteswap().view(arr.dtype.newbyteorder("="))
    arr = arr.reshape(shape[::-1]).T if order == "F" and len(shape) > 1 else arr.reshape(shape)
    m.stack[-1] = arr


_OPS: dict[int, Any] = {
    ord(b"."): _stop,
    0x80: _proto,
    0x95: _frame,
    ord(b"("): _mark,
    ord(b"N"): _push(None),
    0x88: _push(True),
    0x89: _push(False),
    ord(b"J"): _binint,
    ord(b"K"): _binint1,
    ord(b"M"): _binint2,
    0x8A: _long1,
    ord(b"G"): _binfloat,
    0x8C: _short_binunicode,
    ord(b"X"): _binunicode,
    0x8D: _binunicode8,
    ord(b")"): _empty_tuple,
    0x85: _tuple_n(1),
    0x86: _tuple_n(2),
    0x87: _tuple_n(3),
    ord(b"t"): _tuple,
    ord(b"]"): _empty_list,
    ord(b"a"): _append,
    ord(b"e"): _appends,
    ord(b"}"): _empty_dict,
    ord(b"s"): _setitem,
    ord(b"u"): _setitems,
    0x94: _memoize,
    ord(b"q"): _put("<B"),
    ord(b"r"): _put("<I"),
    ord(b"h"): _get("<B"),
    ord(b"j"): _get("<I"),
    ord(b"c"): _global,
    0x93: _stack_global,
    0x81: _newobj,
    ord(b"R"): _reduce,
    ord(b"b"): _build,
}
