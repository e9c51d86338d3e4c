"""Hostile PyTorch files: the reader runs no code, touches no memory outside a tensor's
storage, allocates within a budget tied to the file's size, and refuses every damaged file
with one FileReadError naming it. Every file here is crafted by the test (no PyTorch)."""

import argparse
import collections
import io
import pickle
import pickletools
import random
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from svg_tf.errors import FileReadError
from svg_tf.torch_interop import safe_pickle, torch_file
from svg_tf.torch_interop.torch_file import load, module_state_dict

MAGIC = 0x1950A86A20F9469CFC6C


# -- a small pickle assembler (protocol 2 opcodes) ------------------------------------------
def value(v) -> bytes:
    """The opcodes that push `v` (a plain value), without PROTO/STOP or memo entries."""
    raw = pickletools.optimize(pickle.dumps(v, protocol=2))
    return raw[2:-1]


def glob(module, name) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def storage(key, numel, kind="FloatStorage") -> bytes:
    return (b"(" + value("storage") + glob("torch", kind) + value(key) + value("cpu")
            + value(numel) + b"tQ")


def tensor(key, numel, offset, size, stride, kind="FloatStorage") -> bytes:
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + storage(key, numel, kind)
            + value(offset) + value(tuple(size)) + value(tuple(stride)) + value(False)
            + glob("collections", "OrderedDict") + b")Rt" + b"R")


def state_dict(tensors: dict) -> bytes:
    body = glob("collections", "OrderedDict") + b")R"
    for name, t in tensors.items():
        body += value(name) + t + b"s"
    return body


def legacy(obj_body: bytes, storages: dict, keys=None, header=None) -> bytes:
    """A legacy torch.save file: five pickles, then each storage's count and bytes."""
    header = header or [pickle.dumps(MAGIC, 2), pickle.dumps(1001, 2),
                        pickle.dumps({"little_endian": True}, 2)]
    out = b"".join(header) + b"\x80\x02" + obj_body + b"."
    keys = list(storages) if keys is None else keys
    out += pickle.dumps(keys, 2)
    for key in keys:
        array = storages[key]
        out += struct.pack("<q", array.size) + array.astype("<f4").tobytes()
    return out


def zipped(obj_body: bytes, storages: dict, compress=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + obj_body + b".")
        archive.writestr("archive/byteorder", b"little")
        for key, array in storages.items():
            archive.writestr(f"archive/data/{key}", array.astype("<f4").tobytes())
    return buffer.getvalue()


W = np.arange(6, dtype=np.float32).reshape(2, 3)
B = np.array([7, 8, 9], np.float32)
VALID = state_dict({"w": tensor("0", 6, 0, (2, 3), (3, 1)), "b": tensor("1", 3, 0, (3,), (1,))})
STORAGES = {"0": W.ravel(), "1": B}


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def refused(path, match=None):
    with pytest.raises(FileReadError) as info:
        module_state_dict(load(path), path)
    message = str(info.value)
    assert path in message and "\n" not in message
    if match:
        assert match in message, message
    return message


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_a_crafted_valid_file_reads_exactly(tmp_path, fmt):
    data = legacy(VALID, STORAGES) if fmt == "legacy" else zipped(VALID, STORAGES)
    state = module_state_dict(load(write(tmp_path, "ok.pth", data)))
    assert list(state) == ["w", "b"]
    np.testing.assert_array_equal(state["w"], W)
    np.testing.assert_array_equal(state["b"], B)


# -- 1. no code execution, through any pickle of either format ---------------------------
def _commands(marker):
    touch = f"touch {marker}".encode()
    os_system = b"cos\nsystem\n(S'" + touch + b"'\ntR"
    posix_system = b"cposix\nsystem\n(S'" + touch + b"'\ntR"
    eval_ = b"c__builtin__\neval\n(S'__import__(\"os\").system(\"" + touch + b"\")'\ntR"
    getattr_chain = (b"c__builtin__\ngetattr\n(c__builtin__\n__import__\n(S'os'\ntRS'system'\ntR"
                     b"(S'" + touch + b"'\ntR")
    stack_global = (b"\x8c\x02os\x8c\x06system\x93(S'" + touch + b"'\ntR")
    inst = b"(S'" + touch + b"'\nios\nsystem\n"
    obj = b"(cos\nsystem\nS'" + touch + b"'\no"
    subprocess = b"csubprocess\nPopen\n((S'touch'\nS'" + str(marker).encode() + b"'\nltR"
    return {"os.system": os_system, "posix.system": posix_system, "builtins.eval": eval_,
            "getattr chain": getattr_chain, "STACK_GLOBAL": stack_global, "INST": inst,
            "OBJ": obj, "subprocess.Popen": subprocess}


@pytest.mark.parametrize("section", ["magic", "protocol", "system info", "object", "keys",
                                     "zip data.pkl"])
def test_no_pickle_of_either_format_runs_code(tmp_path, section):
    marker = tmp_path / "pwned"
    for name, payload in _commands(marker).items():
        evil = b"\x80\x02" + payload + b"." if section != "magic" else payload + b"."
        header = [pickle.dumps(MAGIC, 2), pickle.dumps(1001, 2), pickle.dumps({}, 2)]
        if section == "zip data.pkl":
            data = zipped(payload, {})
        elif section == "object":
            data = legacy(payload, {})
        elif section == "keys":
            data = b"".join(header) + b"\x80\x02" + VALID + b"." + evil
        else:
            header[["magic", "protocol", "system info"].index(section)] = evil
            data = legacy(VALID, STORAGES, header=header)
        path = write(tmp_path, "evil.pth", data)
        message = refused(path)
        assert not marker.exists(), (section, name)
        assert "refused" in message or "not a PyTorch file" in message, (name, message)


def test_build_never_changes_a_real_class_or_sets_dunder_attributes(tmp_path):
    on_class = glob("argparse", "Namespace") + b"}" + value("hacked") + value(1) + b"sb"
    refused(write(tmp_path, "a.pth", legacy(on_class, {})), "sets the state of the class")
    assert not hasattr(argparse.Namespace, "hacked")
    # An instance may get attributes, but never __class__, __dict__ or other dunders.
    dunder = (glob("models.lstm", "lstm") + b")\x81}" + value("__class__")
              + glob("collections", "OrderedDict") + b"sb")
    refused(write(tmp_path, "b.pth", legacy(dunder, {})), "__class__")
    # A real class that is not on the allow-list is no stand-in either.
    on_dict = b"}" + b"}" + value("x") + value(1) + b"sb"
    refused(write(tmp_path, "c.pth", legacy(on_dict, {})), "sets the state of a dict")


def test_the_allowed_namespace_is_an_inert_copy(tmp_path):
    opt = glob("argparse", "Namespace") + b")\x81}" + value("z_dim") + value(10) + b"sb"
    obj = load(write(tmp_path, "opt.pth", legacy(b"}" + value("opt") + opt + b"s", {})))
    assert isinstance(obj["opt"], argparse.Namespace) and obj["opt"].z_dim == 10
    assert type(obj["opt"]) is not argparse.Namespace


# -- 2. views: no byte outside the storage is ever read -----------------------------------
@pytest.mark.parametrize("fmt", ["legacy", "zip"])
@pytest.mark.parametrize("offset,size,stride,match", [
    (0, (4,), (-100000,), "negative"),
    (-5, (4,), (1,), "negative"),
    (0, (4, 4), (2 ** 62, 1), "runs past its storage"),
    (97, (4,), (1,), "runs past its storage"),
    (0, (3, -1), (1, 1), "negative"),
])
def test_views_outside_their_storage_are_refused(tmp_path, fmt, offset, size, stride, match):
    body = state_dict({"w": tensor("0", 100, offset, size, stride)})
    storages = {"0": np.zeros(100, np.float32)}
    data = legacy(body, storages) if fmt == "legacy" else zipped(body, storages)
    refused(write(tmp_path, "view.pth", data), match)


# -- 3. allocation bounded by what the file holds ------------------------------------------
def test_a_stride_zero_view_cannot_blow_one_float_into_gigabytes(tmp_path):
    body = state_dict({"w": tensor("0", 1, 0, (20000, 20000), (0, 0))})
    path = write(tmp_path, "broadcast.pth", legacy(body, {"0": np.ones(1, np.float32)}))
    tracemalloc.start()
    refused(path, "more than the file can hold")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6


def test_declared_sizes_must_equal_the_bytes_present(tmp_path):
    body = state_dict({"w": tensor("0", 6, 0, (6,), (1,))})
    # legacy: the count before the bytes differs from what the tensor pickle declares
    data = legacy(body, {"0": np.zeros(5, np.float32)})
    refused(write(tmp_path, "fewer.pth", data), "holds 5 elements but its tensors declare 6")
    data = legacy(body, {"0": np.zeros(7, np.float32)})
    refused(write(tmp_path, "more.pth", data), "holds 7 elements")
    # 10^12 elements declared, a few bytes present: refused before any allocation
    huge = state_dict({"w": tensor("0", 10 ** 12, 0, (10 ** 6, 10 ** 6), (10 ** 6, 1))})
    raw = legacy(huge, {"0": np.zeros(1, np.float32)})
    raw = raw.replace(struct.pack("<q", 1), struct.pack("<q", 10 ** 12))
    refused(write(tmp_path, "huge.pth", raw), "truncated")
    # zip: the entry must hold exactly numel * itemsize bytes
    refused(write(tmp_path, "zfewer.pth", zipped(body, {"0": np.zeros(5, np.float32)})),
            "declares 20 bytes, expected 24")


def test_a_zip_entry_is_never_inflated_past_its_declared_size(tmp_path):
    body = state_dict({"w": tensor("0", 6, 0, (6,), (1,))})
    bomb = bytes(64 << 20)  # 64 MiB of zeros deflate to ~64 KiB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + body + b".")
        archive.writestr("archive/data/0", bomb)
    data = bytearray(buffer.getvalue())
    # Patch the entry's uncompressed size (local header and central directory) to 24 bytes.
    declared = struct.pack("<I", len(bomb))
    count = 0
    position = data.find(declared)
    while position >= 0:
        data[position:position + 4] = struct.pack("<I", 24)
        count += 1
        position = data.find(declared, position + 4)
    assert count == 2
    path = write(tmp_path, "bomb.pth", bytes(data))
    tracemalloc.start()
    refused(path, "archive/data/0")  # zipfile stops at the declared size: a bad CRC
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8e6


# -- 4. damaged files: one line naming the file ---------------------------------------------
def test_zip_slip_names_and_foreign_persistent_ids_are_refused(tmp_path):
    body = state_dict({"w": tensor("../../../../etc/passwd", 6, 0, (6,), (1,))})
    refused(write(tmp_path, "slip.pth", zipped(body, {})), "storage key")
    odd = state_dict({"w": (b"(" + value("module") + value(1) + b"tQ")})
    refused(write(tmp_path, "odd.pth", zipped(odd, {})), "persistent id")


def test_a_module_that_contains_itself_is_refused_not_a_recursion_error(tmp_path):
    # module = lstm(); module._modules = {"child": module}
    body = (glob("models.lstm", "lstm") + b")\x81q\x00}" + value("_modules") + b"}"
            + value("child") + b"h\x00ssb")
    obj = load(write(tmp_path, "loop.pth", legacy(b"}" + value("encoder") + body + b"s", {})))
    with pytest.raises(FileReadError, match="contains itself"):
        module_state_dict(obj["encoder"], "loop.pth")


def test_unknown_storage_types_and_missing_keys_are_named(tmp_path):
    body = state_dict({"w": tensor("0", 6, 0, (6,), (1,), kind="QuantumStorage")})
    refused(write(tmp_path, "q.pth", legacy(body, {"0": W.ravel()})), "refused")
    body = state_dict({"w": tensor("0", 6, 0, (6,), (1,))})
    refused(write(tmp_path, "k.pth", legacy(body, {"0": W.ravel()}, keys=[])), "not in the file")
    refused(write(tmp_path, "k2.pth", legacy(body, {"0": W.ravel(), "1": B})), "no tensor uses")


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_every_truncation_is_refused_with_the_file_named(tmp_path, fmt):
    data = legacy(VALID, STORAGES) if fmt == "legacy" else zipped(VALID, STORAGES)
    for cut in range(len(data)):
        path = write(tmp_path, "cut.pth", data[:cut])
        refused(path)


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_random_mutations_are_read_exactly_or_refused_naming_the_file(tmp_path, fmt):
    """Seeded random byte mutations of a valid file (flips, overwrites, insertions,
    deletions): each is read to the original values or refused as a FileReadError naming
    the file; nothing else escapes, no code runs, no large allocation."""
    data = legacy(VALID, STORAGES) if fmt == "legacy" else zipped(VALID, STORAGES)
    rng = random.Random(1234)
    outcomes = collections.Counter()
    marker = tmp_path / "pwned"
    tracemalloc.start()
    for case in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(mutated))
            kind = rng.choice(["flip", "byte", "insert", "delete"])
            if kind == "flip":
                mutated[at] ^= 1 << rng.randrange(8)
            elif kind == "byte":
                mutated[at] = rng.randrange(256)
            elif kind == "insert":
                mutated[at:at] = bytes([rng.randrange(256)])
            else:
                del mutated[at]
        path = write(tmp_path, "mutant.pth", bytes(mutated))
        try:
            state = module_state_dict(load(path), path)
        except FileReadError as error:
            assert path in str(error)
            outcomes["refused"] += 1
        else:
            outcomes["read"] += 1
            for array in state.values():  # whatever it read, it read within the budget
                assert array.nbytes <= 2 * len(mutated) + (1 << 20)
        assert tracemalloc.get_traced_memory()[1] < 16e6, case
    tracemalloc.stop()
    assert not marker.exists()
    assert outcomes["refused"] > 100, outcomes


# -- the reader itself --------------------------------------------------------------------
def test_plain_pickles_need_no_globals_and_numpy_pickles_hold_only_arrays(tmp_path):
    obj, end = safe_pickle.loads(pickle.dumps({"a": [1, 2.5, "x", (None, True)]}, 4), "p")
    assert obj == {"a": [1, 2.5, "x", (None, True)]}
    with pytest.raises(FileReadError, match="refused"):
        safe_pickle.loads(pickle.dumps(collections.OrderedDict(a=1), 2), "p")
    weights = {"params": {"conv": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4)}},
               "batch_stats": {"mean": np.ones((1, 1, 1, 1, 5), np.float32)},
               "count": np.int64(3)}
    path = tmp_path / "weights.ckpt"
    path.write_bytes(pickle.dumps(weights, 4))
    back = safe_pickle.load_numpy_pickle(str(path))
    np.testing.assert_array_equal(back["params"]["conv"]["kernel"],
                                  weights["params"]["conv"]["kernel"])
    assert back["batch_stats"]["mean"].shape == (1, 1, 1, 1, 5) and back["count"] == 3
    path.write_bytes(pickle.dumps({"x": np.array([object()], dtype=object)}, 4))
    with pytest.raises(FileReadError, match=str(path)):
        safe_pickle.load_numpy_pickle(str(path))


def test_torch_file_errors_are_file_read_errors_with_one_line(tmp_path):
    missing = str(tmp_path / "nope.pth")
    with pytest.raises(FileReadError, match="nope.pth"):
        torch_file.load(missing)
    bad_zip = write(tmp_path, "bad.pth", b"PK\x03\x04" + bytes(40))
    refused(bad_zip, "zip")


def test_checkpoint_structure_errors_are_named_not_type_errors(tmp_path):
    from svg_tf.torch_interop.authors_checkpoint import CheckpointError, read_checkpoint

    modules = b"".join(value(name) + b"}" + b"s" for name in
                       ("encoder", "decoder", "frame_predictor", "posterior"))
    opt = value("opt") + glob("__main__", "Opt") + b")\x81s"  # a class of the user's script
    path = write(tmp_path, "opt.pth", legacy(b"}" + modules + opt, {}))
    with pytest.raises(CheckpointError, match="'opt' is a Opt"):
        read_checkpoint(path)
    mixed = b"}" + value(1) + value(0) + b"s" + value("a") + value(0) + b"s"  # keys 1 and "a"
    path = write(tmp_path, "mixed.pth", legacy(mixed, {}))
    with pytest.raises(CheckpointError, match=r"found keys \['1', 'a'\]"):
        read_checkpoint(path)


def _container_program(rng, budget):
    """Opcodes (protocol 4) that push one object: random nests of tuples, lists, dicts and
    sets, sometimes a run of thousands of empty containers or a tuple chain hundreds deep
    (the amplification and depth attacks), within about `budget` bytes."""
    kind = rng.choice(["atom", "atom", "tuple", "list", "dict", "many", "chain"])
    if kind == "atom" or budget < 8:
        return rng.choice([b")", b"N", b"K\x01", b"\x8f", b"]", b"}", b"\x8c\x01a"])
    if kind == "many":  # amplification: a list of n empty containers, 1 byte each
        n = rng.randrange(budget)
        return b"(" + rng.choice([b"\x8f", b"}", b"]", b")"]) * n + b"l"
    if kind == "chain":  # depth: a tuple nested n deep
        return b")" + b"\x85" * rng.randrange(min(budget, 400))
    items = [_container_program(rng, budget // 4) for _ in range(rng.randrange(1, 5))]
    if kind == "tuple":
        return b"(" + b"".join(items) + b"t"
    if kind == "list":
        return b"](" + b"".join(items) + b"e"
    keys = [rng.choice([b"K\x02", b"\x8c\x01k", b")", b")\x85\x85"]) for _ in items]
    return b"}(" + b"".join(k + v for k, v in zip(keys, items)) + b"u"


def test_random_container_programs_stay_within_the_memory_bound():
    """Seeded random pickles of containers (nests of tuples, lists, dicts, sets, runs of
    empty containers, tuple chains), some with a byte mutated: each is read or refused as a
    FileReadError, within 64 MB + 8x its size of traced memory, never a RecursionError,
    another exception or a crash."""
    rng = random.Random(7)
    outcomes = collections.Counter()
    for case in range(40):
        body = bytearray(_container_program(rng, rng.choice([1_000, 20_000, 400_000])))
        if case % 3 == 0 and body:
            body[rng.randrange(len(body))] = rng.randrange(256)
        data = b"\x80\x04" + bytes(body) + b"."
        tracemalloc.start()
        try:
            safe_pickle.loads(data, "fuzz.pkl")
            outcomes["read"] += 1
        except FileReadError as error:
            assert str(error).startswith("fuzz.pkl: ") and "\n" not in str(error)
            outcomes[str(error).split(": ", 1)[1][:30]] += 1
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < safe_pickle.BUDGET_BASE + 8 * len(data) + 16 * 2 ** 20, (case, peak)
    deep = b"\x80\x04" + b")" + b"\x85" * 200_000 + b"."
    with pytest.raises(FileReadError, match="nested more than 64"):
        safe_pickle.loads(deep, "fuzz.pkl")
    sets = b"\x80\x04(" + b"\x8f" * 400_000 + b"l."  # 86 MB of empty sets from 0.4 MB
    with pytest.raises(FileReadError, match="builds more than 67 MB of objects"):
        safe_pickle.loads(sets, "fuzz.pkl")
    assert outcomes["read"] > 5 and sum(outcomes.values()) - outcomes["read"] > 5, outcomes
