"""The first check on a file svg_tf did not write (a checkpoint, LPIPS or I3D weights):
a regular file, readable, and not larger than what its kind ever is. A folder, /dev/zero,
a FIFO or a dangling symlink would otherwise be read without end or named misleadingly."""

from __future__ import annotations

import os
import stat

from svg_tf.errors import FileReadError

GB = 2 ** 30


def check_input_file(path: str, what: str, max_bytes: int) -> int:
    """The size of `path`, after refusing (FileReadError naming it) anything but a readable
    regular file of at most `max_bytes` (`what` names the kind, e.g. "PyTorch checkpoint")."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        problem = ("a symlink to a missing file" if os.path.islink(path) else "no such file")
        raise FileReadError(path, f"{problem} (expected a {what})") from None
    except OSError as error:  # a symlink loop, a permission, ...
        raise FileReadError(path, f"cannot be read ({error.strerror or error}); expected a "
                                  f"{what}") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileReadError(path, f"is a folder: expected a {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise FileReadError(path, f"is not a regular file (a device, pipe or socket): expected "
                                  f"a {what}")
    if info.st_size > max_bytes:
        raise FileReadError(path, f"is {info.st_size / GB:.1f} GB: no {what} is larger than "
                                  f"{max_bytes / GB:.1f} GB")
    if not os.access(path, os.R_OK):
        raise FileReadError(path, f"cannot be read (permission denied); expected a {what}")
    return info.st_size
