"""Read PyTorch files without PyTorch, as untrusted input: the legacy format of torch.save in
PyTorch 0.3/0.4 (what the authors released) and the current zip format.

Legacy files are five pickles one after another (a magic number, the protocol version,
system information, the object, the storage keys), then per key a little-endian int64
element count and the raw storage bytes. Zip files hold `*/data.pkl` and one
`*/data/<key>` entry per storage. Tensors inside the object pickle are persistent ids naming
a storage, rebuilt by `torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride)`.

Every pickle goes through `safe_pickle` (nothing named by the file is imported or run).
Before any byte of a tensor is touched its view is checked: a known storage type,
non-negative sizes, strides and offset, the view's extent inside its storage, each storage's
declared size equal to the bytes present (a file region, or a zip entry read with a cap and
never inflated past its declared size). What tensors materialise is bounded by a budget of
twice the file's size plus 1 MiB, so no file makes the reader allocate much more than it
holds (a stride-0 view that would repeat one float into gigabytes is refused). Every
failure is a FileReadError naming the file.
"""

from __future__ import annotations

import collections
import os
import re
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from svg_tf.errors import FileReadError
from svg_tf.torch_interop import safe_pickle
from svg_tf.torch_interop.safe_pickle import MAX_NESTING, Options, Profile, StandIn

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_DIMS = 32

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class NotATorchFile(FileReadError):
    """The file is neither a legacy nor a zip PyTorch file."""


class StorageType:
    """Stands in for torch.FloatStorage and friends: only the element type matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class Storage:
    """A storage of `numel` elements whose bytes are filled in after the object pickle
    (legacy) or when it is first named (zip)."""

    def __init__(self, dtype, numel, context):
        self.dtype, self.numel, self.context = dtype, numel, context
        self.array = None


class _Context:
    """The file being read: its path (for messages) and its allocation budget."""

    def __init__(self, path, file_size):
        self.path = str(path)
        self.budget = 2 * file_size + (1 << 20)

    def take(self, nbytes, what):
        if nbytes > self.budget:
            raise FileReadError(self.path, f"refused: {what} would need {nbytes:,} bytes, "
                                           "more than the file can hold (budget "
                                           f"{self.budget:,} bytes left)")
        self.budget -= nbytes


class LazyTensor:
    """A checked tensor view (offset, size, stride) of a storage; `numpy()` materialises
    it within the file's budget."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, Storage):  # the pickle machine names the file
            raise ValueError("a tensor without a storage")
        path = storage.context.path
        if not _is_int(offset) or not isinstance(size, tuple) or not isinstance(stride, tuple):
            raise FileReadError(path, "a tensor whose offset, size or stride is not integers")
        if len(size) != len(stride) or len(size) > MAX_DIMS or not all(
                _is_int(n) for n in size + stride):
            raise FileReadError(path, f"a tensor with size {size!r} and stride {stride!r}")
        if offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
            raise FileReadError(path, f"refused: a tensor view with a negative offset, size "
                                      f"or stride (offset {offset}, size {size}, stride {stride})")
        numel = 1
        for n in size:
            numel *= n
        if numel and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= storage.numel:
            raise FileReadError(path, f"refused: a tensor of size {size}, stride {stride} at "
                                      f"offset {offset} runs past its storage of "
                                      f"{storage.numel} elements")
        self.storage, self.offset, self.shape, self.stride = storage, offset, size, stride
        self.numel = numel

    def numpy(self) -> np.ndarray:
        storage = self.storage
        context = storage.context
        if storage.array is None:
            raise FileReadError(context.path, "a tensor's storage was never read: the file is "
                                              "truncated or damaged")
        context.take(self.numel * storage.dtype.itemsize, f"a tensor of shape {self.shape}")
        item = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage.array[self.offset:], shape=self.shape,
            strides=[s * item for s in self.stride], writeable=False)
        return np.array(view)

    def _safe_setstate(self, state):  # Parameter/Variable state (requires_grad, hooks)
        pass


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return LazyTensor(storage, offset, tuple(size) if isinstance(size, list) else size,
                      tuple(stride) if isinstance(stride, list) else stride)


def _parameter(data=None, *unused):
    if data is not None and not isinstance(data, LazyTensor):
        raise ValueError("a Parameter without a tensor")
    return data


class _ObjectMarker:
    """builtins.object, as copyreg._reconstructor's base argument."""


_OBJECT = _ObjectMarker()


def _reconstructor(cls, base, state=None):
    """copyreg._reconstructor(cls, object, state), as protocol-0/1 pickles build objects:
    only for stand-in classes."""
    if not (isinstance(cls, type) and issubclass(cls, StandIn)) or base is not _OBJECT:
        raise ValueError("copyreg._reconstructor of a class that is not a stand-in")
    obj = cls()
    if state is not None:
        obj._safe_setstate(state)
    return obj


def _profile() -> Profile:
    """The globals a PyTorch object pickle may name (cf. torch.load(weights_only=True)'s
    allow-list), plus inert stand-ins for module classes."""
    table: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("argparse", "Namespace"): Options,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
        ("torch.nn.parameter", "Parameter"): _parameter,
        ("torch.autograd.variable", "Variable"): _parameter,
        ("torch.autograd", "Variable"): _parameter,
        ("torch", "Size"): tuple,
        ("copyreg", "_reconstructor"): _reconstructor,
        ("copy_reg", "_reconstructor"): _reconstructor,
    }
    for module in ("builtins", "__builtin__"):
        table[(module, "object")] = _OBJECT
        for name in ("set", "frozenset", "slice", "complex", "tuple", "list"):
            table[(module, name)] = getattr(__import__("builtins"), name)
    for module in ("torch", "torch.cuda"):
        for name in STORAGE_DTYPES:
            table[(module, name)] = StorageType(name)
    return Profile(table, stand_ins=True)


def load(path: str):
    """The object a PyTorch file holds, with tensors as `LazyTensor` (call `.numpy()`).

    Raises:
        FileReadError (NotATorchFile when it is no PyTorch file at all): names the file.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        size = os.path.getsize(path)
    except OSError as error:
        raise FileReadError(path, f"cannot be read ({error.strerror or error})") from None
    try:
        if head.startswith(b"PK"):
            return _load_zip(path, _Context(path, size))
        return _load_legacy(path, _Context(path, size))
    except FileReadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
            NotImplementedError, RuntimeError) as error:  # RuntimeError: an encrypted entry
        raise FileReadError(path, f"damaged zip archive ({safe_pickle._short(error)})") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            RecursionError, MemoryError, struct.error) as error:
        raise FileReadError(path, f"damaged PyTorch file ({type(error).__name__}: "
                                  f"{safe_pickle._short(error)})") from None


def _storage_args(saved_id, context):
    """(storage type, key, numel, view) of a ('storage', ...) persistent id, checked."""
    if not isinstance(saved_id, tuple) or len(saved_id) not in (5, 6):
        size = len(saved_id) if isinstance(saved_id, tuple) else type(saved_id).__name__
        raise FileReadError(context.path, f"a persistent id of {size} items")
    storage_type, key, _, numel = saved_id[1:5]
    if not isinstance(storage_type, StorageType):
        raise FileReadError(context.path, "refused: a storage whose type is not a known "
                                          f"torch storage type ({type(storage_type).__name__})")
    if _is_int(key):
        key = str(key)
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", key):
        raise FileReadError(context.path, f"refused: storage key {str(key)[:80]!r} (expected "
                                          "letters, digits or _)")
    if not _is_int(numel) or numel < 0:
        raise FileReadError(context.path, f"storage {key} declares {numel!r} elements")
    view = saved_id[5] if len(saved_id) == 6 else None
    return storage_type, key, numel, view


def _persistent_id_kind(saved_id, path):
    if not isinstance(saved_id, tuple) or not saved_id:
        raise FileReadError(path, f"unexpected persistent id of type {type(saved_id).__name__}")
    kind = saved_id[0]
    return kind.decode("ascii", "replace") if isinstance(kind, bytes) else kind


def _module_class(saved_id, path):
    """('module', class, source file, source): legacy files name a module's class this way."""
    cls = saved_id[1] if len(saved_id) > 1 else None
    if not (isinstance(cls, type) and issubclass(cls, StandIn)):
        raise FileReadError(path, "refused: a 'module' persistent id that is not a class")
    return cls


def _load_legacy(path, context):
    with open(path, "rb") as f:
        data = f.read()
    try:
        magic, pos = safe_pickle.loads(data, path)
    except FileReadError as error:
        raise NotATorchFile(path, f"is not a PyTorch file ({error.problem})") from None
    if magic != LEGACY_MAGIC:
        raise NotATorchFile(path, "is not a PyTorch file: no torch.save magic number")
    protocol, pos = safe_pickle.loads(data, path, start=pos)
    if protocol != LEGACY_PROTOCOL:
        raise NotATorchFile(path, f"unsupported legacy protocol version {protocol!r}")
    _, pos = safe_pickle.loads(data, path, start=pos)  # system info (byte order, type sizes)
    storages: dict[str, Storage] = {}
    views = []

    def persistent_load(saved_id):
        kind = _persistent_id_kind(saved_id, path)
        if kind == "module":
            return _module_class(saved_id, path)
        if kind != "storage":
            raise FileReadError(path, f"unknown persistent id kind {str(kind)[:40]!r}")
        storage_type, key, numel, view = _storage_args(saved_id, context)
        if key not in storages:
            storages[key] = Storage(storage_type.dtype, numel, context)
        root = storages[key]
        if root.dtype != storage_type.dtype or root.numel != numel:
            raise FileReadError(path, f"storage {key} is declared twice, differently")
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and _is_int(view[1])
                and _is_int(view[2])):
            raise FileReadError(path, f"storage {key}: a damaged storage view")
        _, offset, view_size = view
        if offset < 0 or view_size < 0 or offset + view_size > numel:
            raise FileReadError(path, f"refused: a view of {view_size} elements at {offset} "
                                      f"of storage {key} of {numel}")
        views.append((Storage(storage_type.dtype, view_size, context), root, offset))
        return views[-1][0]

    obj, pos = safe_pickle.loads(data, path, _profile(), persistent_load, start=pos)
    keys, pos = safe_pickle.loads(data, path, start=pos)
    if not isinstance(keys, list):
        raise FileReadError(path, "damaged storage key list")
    for key in keys:
        key = str(key)
        storage = storages.get(key)
        if storage is None:
            raise FileReadError(path, f"the key list names storage {key[:40]!r}, which no "
                                      "tensor uses")
        if storage.array is not None:
            raise FileReadError(path, f"storage {key} is listed twice")
        if pos + 8 > len(data):
            raise FileReadError(path, f"truncated: storage {key} is missing")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        if numel != storage.numel:
            raise FileReadError(path, f"storage {key} holds {numel} elements but its tensors "
                                      f"declare {storage.numel}")
        nbytes = numel * storage.dtype.itemsize
        if pos + nbytes > len(data):
            raise FileReadError(path, f"truncated: storage {key} has {len(data) - pos} of "
                                      f"{nbytes} bytes")
        storage.array = np.frombuffer(data, storage.dtype.newbyteorder("<"), count=numel,
                                      offset=pos)
        pos += nbytes
    missing = [key for key, storage in storages.items() if storage.array is None]
    if missing:
        raise FileReadError(path, f"truncated or damaged: storage(s) {missing[:4]} of its "
                                  "tensors are not in the file")
    for view, root, offset in views:
        view.array = root.array[offset:offset + view.numel]
    return obj


def _read_entry(archive, name, expected, context, what):
    """The bytes of zip entry `name`, which must be exactly `expected` bytes; never
    inflates more than expected + 1."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise FileReadError(context.path, f"{what} ({name}) is missing from the archive") from None
    if expected is not None and info.file_size != expected:
        raise FileReadError(context.path, f"{what} ({name}) declares {info.file_size:,} bytes, "
                                          f"expected {expected:,}")
    limit = info.file_size if expected is None else expected
    context.take(limit, what)
    with archive.open(info) as entry:
        raw = entry.read(limit + 1)
    if len(raw) != limit:
        raise FileReadError(context.path, f"{what} ({name}) holds {len(raw):,}"
                                          f"{'+' if len(raw) > limit else ''} bytes, its "
                                          f"header declares {limit:,}")
    return raw


def _load_zip(path, context):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise NotATorchFile(path, "is a zip file but not a PyTorch one (no data.pkl)")
        root = pickles[0][:-len("data.pkl")]
        byteorder = "little"
        if root + "byteorder" in names:
            byteorder = _read_entry(archive, root + "byteorder", None, context,
                                    "the byte order")[:16].decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise FileReadError(path, f"byte order {byteorder!r}")
        storages = {}

        def persistent_load(saved_id):
            kind = _persistent_id_kind(saved_id, path)
            if kind != "storage":
                raise FileReadError(path, f"unknown persistent id kind {str(kind)[:40]!r}")
            storage_type, key, numel, _ = _storage_args(saved_id, context)
            if key not in storages:
                storage = Storage(storage_type.dtype, numel, context)
                raw = _read_entry(archive, f"{root}data/{key}", numel * storage.dtype.itemsize,
                                  context, f"storage {key}")
                dtype = storage.dtype.newbyteorder("<" if byteorder == "little" else ">")
                storage.array = np.frombuffer(raw, dtype)
                storages[key] = storage
            storage = storages[key]
            if storage.numel != numel or storage.dtype != storage_type.dtype:
                raise FileReadError(path, f"storage {key} is declared twice, differently")
            return storage

        data = _read_entry(archive, pickles[0], None, context, "the object pickle")
        obj, _ = safe_pickle.loads(data, path, _profile(), persistent_load)
        return obj


def module_state_dict(module, path="<checkpoint>") -> "collections.OrderedDict[str, np.ndarray]":
    """The state_dict of an unpickled nn.Module (a stand-in) or of a saved state_dict, in
    PyTorch's order; walked without recursion, at most MAX_NESTING modules deep, each module
    once (a module that contains itself is refused)."""
    out = collections.OrderedDict()
    if isinstance(module, dict):
        for name, value in module.items():
            if isinstance(value, LazyTensor):
                out[str(name)] = value.numpy()
        return out
    pending = [(module, "", 0)]
    seen = set()
    while pending:
        current, prefix, depth = pending.pop()
        where = prefix.rstrip(".") or "the root module"
        if id(current) in seen:
            raise FileReadError(path, f"refused: {where} contains itself")
        seen.add(id(current))
        if depth > MAX_NESTING:
            raise FileReadError(path, f"refused: modules nested more than {MAX_NESTING} deep")
        state = getattr(current, "__dict__", None)
        if not isinstance(state, dict):
            continue
        for group in ("_parameters", "_buffers"):
            values = state.get(group) or {}
            if not isinstance(values, dict):
                raise FileReadError(path, f"{where}: {group} is a {type(values).__name__}")
            for name, value in values.items():
                if isinstance(value, LazyTensor):
                    out[f"{prefix}{name}"] = value.numpy()
        children = state.get("_modules") or {}
        if not isinstance(children, dict):
            raise FileReadError(path, f"{where}: _modules is a {type(children).__name__}")
        for name, child in reversed(list(children.items())):
            if child is not None:
                pending.append((child, f"{prefix}{name}.", depth + 1))
    return out


def class_path(obj) -> str:
    """'models.lstm.lstm' for a stand-in of that class (for messages and checks)."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
