"""Read PyTorch checkpoint files without PyTorch: the legacy format of torch.save in PyTorch
0.3/0.4 (what the authors released) and the current zip format.

Legacy files are four pickles one after another (a magic number, the protocol version, system
information, the object), then a pickle of the storage keys and, per key, a little-endian int64
element count and the raw storage bytes. Tensors inside the object are persistent ids naming a
storage, rebuilt by `torch._utils._rebuild_tensor(_v2)(storage, offset, size, stride)`. Zip files
hold `*/data.pkl` and one `*/data/<key>` entry per storage.

Classes the pickle names are not imported: torch's tensor rebuilders, storage types,
Parameter/Variable and a few standard types are mapped to NumPy equivalents, and every other
class (the authors' `models.lstm.lstm`, `torch.nn.modules.conv.Conv2d`, PyTorch 0.3 internals
such as `torch.nn.backends.thnn`) becomes an inert stand-in object that keeps its attributes,
so an `nn.Module`'s `_parameters`, `_buffers` and `_modules` can be walked.
"""

from __future__ import annotations

import argparse
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class NotATorchFile(ValueError):
    """The file is neither a legacy nor a zip PyTorch file."""


class StorageType:
    """Stands in for torch.FloatStorage and friends: only the element type matters."""

    def __init__(self, name):
        if name not in STORAGE_DTYPES:
            raise ValueError(f"unsupported PyTorch storage type {name}: expected one of "
                             f"{sorted(STORAGE_DTYPES)}")
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class Storage:
    """A storage whose bytes are filled in after the object pickle (legacy) or on demand."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.array = None


class LazyTensor:
    """A tensor view (offset, size, stride) of a storage; `numpy()` materialises it."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def numpy(self) -> np.ndarray:
        data = self.storage.array
        if data is None:
            raise ValueError("tensor storage was never read: truncated PyTorch file?")
        item = data.dtype.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride)) + 1
        if all(self.shape) and needed > data.size:
            raise ValueError(f"tensor of shape {self.shape} runs past its storage of "
                             f"{data.size} elements: damaged PyTorch file?")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.shape, strides=[s * item for s in self.stride])
        return np.array(view)

    def __setstate__(self, state):  # Parameter/Variable state (requires_grad, hooks): unused
        pass


class StandIn:
    """Any class the pickle names that is not mapped: keeps whatever state it is given."""

    def __init__(self, *args, **kwargs):
        self._args = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
            state = {**state[0], **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self._state = state

    def __call__(self, *args, **kwargs):  # e.g. a backend object used as a factory
        return StandIn(*args)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    return data


def _parameter(data=None, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, load_storage):
        super().__init__(file, encoding="latin1")
        self._load_storage = load_storage
        self._stand_ins = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "argparse" and name == "Namespace":
            return argparse.Namespace
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name.startswith("_rebuild_parameter"):
            return _rebuild_parameter
        if (module, name) in (("torch.nn.parameter", "Parameter"),
                              ("torch.autograd.variable", "Variable"),
                              ("torch.autograd", "Variable")):
            return _parameter
        if module in ("torch", "torch.cuda") and name.endswith("Storage"):
            return StorageType(name)
        if module == "torch" and name == "Size":
            return tuple
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "slice",
                                                              "complex", "tuple", "list"):
            return getattr(__import__("builtins"), name)
        key = (module, name)
        if key not in self._stand_ins:
            self._stand_ins[key] = type(name, (StandIn,), {"__module__": module,
                                                           "__qualname__": name})
        return self._stand_ins[key]

    def persistent_load(self, saved_id):
        if not isinstance(saved_id, tuple) or not saved_id:
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
        kind = saved_id[0].decode("ascii") if isinstance(saved_id[0], bytes) else saved_id[0]
        if kind == "module":  # ('module', class, source file, source): the class itself
            return saved_id[1]
        if kind == "storage":
            return self._load_storage(*saved_id[1:])
        raise pickle.UnpicklingError(f"unknown persistent id kind {kind!r}")


def load(path: str):
    """The object a PyTorch file holds, with tensors as `LazyTensor` (call `.numpy()`)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        return _load_zip(path)
    return _load_legacy(path)


def _load_legacy(path):
    storages, views = {}, []
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f, encoding="latin1")
        except Exception as error:  # noqa: BLE001 - any unpickling failure means "not ours"
            raise NotATorchFile(f"{path} is not a PyTorch file ({error})") from None
        if magic != LEGACY_MAGIC:
            raise NotATorchFile(f"{path} is not a PyTorch file: no torch.save magic number")
        protocol = pickle.load(f, encoding="latin1")
        if protocol != LEGACY_PROTOCOL:
            raise NotATorchFile(f"{path}: unsupported legacy protocol version {protocol}")
        pickle.load(f, encoding="latin1")  # system info (byte order, type sizes)

        def load_storage(storage_type, key, location, numel, view=None):
            key = str(key)
            if key not in storages:
                storages[key] = Storage(storage_type.dtype, int(numel))
            root = storages[key]
            if view is None:
                return root
            view_key, offset, size = view
            views.append(_StorageView(root, int(offset), int(size)))
            return views[-1]

        obj = _Unpickler(f, load_storage).load()
        keys = pickle.load(f, encoding="latin1")
        for key in keys:
            storage = storages[str(key)]
            header = f.read(8)
            if len(header) != 8:
                raise ValueError(f"{path} is truncated: storage {key} is missing")
            (numel,) = struct.unpack("<q", header)
            nbytes = numel * storage.dtype.itemsize
            raw = f.read(nbytes)
            if len(raw) != nbytes:
                raise ValueError(f"{path} is truncated: storage {key} has {len(raw)} of "
                                 f"{nbytes} bytes")
            storage.array = np.frombuffer(raw, storage.dtype.newbyteorder("<")).astype(
                storage.dtype)
    for view in views:
        view.resolve()
    return obj


class _StorageView(Storage):
    """A legacy storage view (an offset into a root storage); resolved after reading."""

    def __init__(self, root, offset, size):
        super().__init__(root.dtype, size)
        self.root, self.offset = root, offset

    def resolve(self):
        self.array = self.root.array[self.offset:self.offset + self.numel]


def _load_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise NotATorchFile(f"{path} is a zip file but not a PyTorch one (no data.pkl)")
        root = pickles[0][:-len("data.pkl")]
        byteorder = "little"
        if root + "byteorder" in names:
            byteorder = archive.read(root + "byteorder").decode().strip()
        storages = {}

        def load_storage(storage_type, key, location, numel, *unused):
            key = str(key)
            if key not in storages:
                storage = Storage(storage_type.dtype, int(numel))
                raw = archive.read(f"{root}data/{key}")
                dtype = storage.dtype.newbyteorder("<" if byteorder == "little" else ">")
                storage.array = np.frombuffer(raw, dtype).astype(storage.dtype)
                storages[key] = storage
            return storages[key]

        return _Unpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


def module_state_dict(module) -> "collections.OrderedDict[str, np.ndarray]":
    """The state_dict of an unpickled nn.Module (a stand-in) or of a saved state_dict."""
    out = collections.OrderedDict()
    if isinstance(module, dict):
        for name, value in module.items():
            if isinstance(value, LazyTensor):
                out[name] = value.numpy()
        return out
    _walk(module, "", out)
    return out


def _walk(module, prefix, out):
    state = getattr(module, "__dict__", {})
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, LazyTensor):
                out[prefix + name] = value.numpy()
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            _walk(child, f"{prefix}{name}.", out)


def class_path(obj) -> str:
    """'models.lstm.lstm' for a stand-in of that class (for messages and checks)."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
