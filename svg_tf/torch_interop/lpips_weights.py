"""The LPIPS weights file (.npz) from torchvision's AlexNet and the lpips package's heads.

--alexnet: torchvision's AlexNet state dict, alexnet-owt-7be5be79.pth. --linear: the `lpips`
package's lpips/weights/v0.1/alex.pth. Both are read as untrusted PyTorch files
(torch_file); `python -m svg_tf.convert_lpips` is the program around `convert`.
"""

from __future__ import annotations

import os

import numpy as np

from svg_tf.errors import FileReadError
from svg_tf.torch_interop import torch_file

# torchvision AlexNet `features` index of each conv: (out, in, kernel, stride, padding).
CONVS = {0: (64, 3, 11, 4, 2), 3: (192, 64, 5, 1, 2), 6: (384, 192, 3, 1, 1),
         8: (256, 384, 3, 1, 1), 10: (256, 256, 3, 1, 1)}


def convert_weights(alexnet_state: dict, linear_state: dict) -> dict:
    """npz content from torchvision's AlexNet and LPIPS' linear-head state dicts (numpy)."""
    out = {}
    for index, (cout, cin, k, _, _) in CONVS.items():
        for name, shape in (("weight", (cout, cin, k, k)), ("bias", (cout,))):
            key = f"features.{index}.{name}"
            if key not in alexnet_state:
                raise ValueError(f"AlexNet state dict has no {key!r}: is it torchvision's "
                                 "alexnet (alexnet-owt-7be5be79.pth)?")
            value = np.asarray(alexnet_state[key], np.float32)
            if value.shape != shape:
                raise ValueError(f"{key} has shape {value.shape}: expected {shape}")
            out[key] = value
    for layer, (cout, _, _, _, _) in enumerate(CONVS.values()):
        key = f"lin{layer}.model.1.weight"
        if key not in linear_state:
            raise ValueError(f"linear-head state dict has no {key!r}: is it the lpips package's "
                             "weights/v0.1/alex.pth?")
        value = np.asarray(linear_state[key], np.float32)
        if value.shape != (1, cout, 1, 1):
            raise ValueError(f"{key} has shape {value.shape}: expected {(1, cout, 1, 1)}")
        out[key] = value
    return out


def read_state(flag: str, path: str) -> dict:
    """The state dict (numpy arrays) of one of the two PyTorch files; errors name flag and
    file."""
    if not os.path.isfile(path):
        raise FileReadError(path, f"no such file ({flag})")
    obj = torch_file.load(path)
    if not isinstance(obj, dict):
        raise FileReadError(path, f"holds a {type(obj).__name__}, not a state dict ({flag})")
    return torch_file.module_state_dict(obj, path)


def convert(alexnet_path: str, linear_path: str, out: str) -> str:
    """Write the LPIPS weights .npz that svg_tf.metrics.lpips reads.

    Args:
      alexnet_path: torchvision's AlexNet weights (.pth).
      linear_path: the lpips package's linear heads (alex.pth).
      out: the .npz to write (a temporary file, then renamed).

    Returns:
      out.
    """
    states = [read_state("--alexnet", alexnet_path), read_state("--linear", linear_path)]
    try:
        arrays = convert_weights(*states)
    except ValueError as error:  # a key or shape that is not LPIPS': name the file
        path = linear_path if "linear-head" in str(error) or "lin" in str(error)[:5] \
            else alexnet_path
        raise FileReadError(path, str(error)) from None
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out
