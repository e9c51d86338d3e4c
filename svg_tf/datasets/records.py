"""TFRecord plumbing shared by the KTH and BAIR readers: finding shards, checking them,
streaming them.

tf.data reports a damaged record as "corrupted record at <offset>" without saying which file
it is in, so shards are checked here first. The default check reads only the record headers
(length and its CRC) and seeks over the payloads: it costs one small read per record and
finds truncated files and damaged headers, naming the file. `verify='full'` also checks every
payload CRC (reads everything); `skip_corrupt=True` skips what fails and warns with counts.
A damaged payload met later while streaming is found again by `locate_damage`, which names
the file and the record offset (the training loop calls it, and with skip_corrupt drops
the file and goes on).
"""

from __future__ import annotations

import os
import struct
import warnings

import tensorflow as tf

from svg_tf.data_checks import (CLI_OPTIONS, SKIP_CORRUPT_HELP, VERIFY_HELP,  # noqa: F401
                                VERIFY_MODES)


class CorruptRecordError(ValueError):
    """A TFRecord file is truncated or damaged."""


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """The CRC TFRecord stores: rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def find_shards(folder, patterns, dataset, how_to_get):
    """Sorted files in `folder` matching any of `patterns`; a clear error when there are none."""
    if not folder:
        raise FileNotFoundError(f"{dataset}: no data_dir given. {how_to_get}")
    if not tf.io.gfile.isdir(folder):
        raise FileNotFoundError(f"{dataset}: data folder {folder} does not exist. {how_to_get}")
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(os.path.join(folder, p))})
    if not files:
        raise FileNotFoundError(f"{dataset}: no TFRecord shards matching {list(patterns)} in "
                                f"{folder}. {how_to_get}")
    return files


def framing_problem(path):
    """None if every record header of `path` is intact and the file ends on a record
    boundary; otherwise a description of the first problem."""
    size = tf.io.gfile.stat(path).length
    offset = 0
    with tf.io.gfile.GFile(path, "rb") as f:
        while offset < size:
            header = f.read(12)
            if len(header) < 12:
                return f"truncated record header at byte {offset}"
            length, length_crc = struct.unpack("<QI", header)
            if masked_crc(header[:8]) != length_crc:
                return f"corrupted record header at byte {offset}"
            end = offset + 12 + length + 4
            if end > size:
                return f"truncated record at byte {offset} ({length} bytes announced)"
            f.seek(end)
            offset = end
    return None


def payload_problem(path):
    """None if TensorFlow reads every record of `path` with a valid CRC."""
    try:
        for _ in tf.data.TFRecordDataset(path):
            pass
    except tf.errors.DataLossError as error:
        return error.message.split("[Op:")[0].split("}}")[-1].strip()
    return None


def check_shards(files, verify="headers", skip_corrupt=False, exclude_files=()):
    """The usable files; raises CorruptRecordError naming the first bad one, or, with
    skip_corrupt, drops bad files with a warning that counts them. `exclude_files` were
    found damaged earlier in this run and are left out without another look."""
    excluded = set(exclude_files)
    files = [f for f in files if f not in excluded]
    if not files:
        raise FileNotFoundError(f"no usable shards left: all {len(excluded)} are damaged")
    if verify == "framing":  # the name before 0.3
        verify = "headers"
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify={verify!r} is invalid: expected one of {list(VERIFY_MODES)}")
    if verify == "none":
        return files
    good, bad = [], []
    for path in files:
        problem = framing_problem(path)
        if problem is None and verify == "full":
            problem = payload_problem(path)
        if problem is None:
            good.append(path)
        elif skip_corrupt:
            bad.append(f"{path}: {problem}")
        else:
            raise CorruptRecordError(f"{path}: {problem}. {REMEDY}")
    if bad:
        warnings.warn(f"skipped {len(bad)} damaged TFRecord file(s) of {len(files)}: "
                      + "; ".join(bad[:5]), stacklevel=3)
    if not good:
        raise FileNotFoundError(f"no usable shards left of {len(files)} after skipping "
                                "damaged files")
    return good


REMEDY = ("Re-download or re-convert this file, or skip damaged files (--skip_corrupt, "
          "skip_corrupt=True); --verify_data=full checks every record before training.")


def locate_damage(files):
    """[(file, problem)] for every file whose records TensorFlow cannot read (a full read):
    how a `DataLossError` met while streaming, which names no file, is traced to one."""
    found = []
    for path in files:
        problem = framing_problem(path) or payload_problem(path)
        if problem:
            found.append((path, problem))
    return found


# Prefix of the messages of data checks that run inside tf.data (graph asserts): the
# training loop turns an error carrying it into one line (`data_error_message`).
DATA_ERROR = "svg_tf data error:"


def data_error_message(error) -> str | None:
    """The message of a data check raised inside tf.data, or None for any other error."""
    text = getattr(error, "message", None) or str(error)
    start = text.find(DATA_ERROR)
    if start < 0:
        return None
    line = text[start + len(DATA_ERROR):].strip().splitlines()[0]
    return line.split(" [Condition")[0].rstrip("] ").strip()


def record_stream(files, training, seed=None, skip_corrupt=False, cycle_length=4):
    """Serialized records: shuffled across files and repeated for training, in file order
    once for testing. With skip_corrupt the test stream skips a damaged file's remaining
    records; the endless training stream leaves a damaged record's error to its consumer
    (the training loop names the file, drops it and counts it)."""
    data = tf.data.Dataset.from_tensor_slices(files)
    if training:
        data = data.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
        data = data.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length,
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
    else:
        data = data.flat_map(tf.data.TFRecordDataset)
    if skip_corrupt and not training:
        data = data.ignore_errors(log_warning=True)
    return data
