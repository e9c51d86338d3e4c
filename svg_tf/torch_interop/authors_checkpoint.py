"""The authors' SVG checkpoints (edenton/svg train_svg_lp.py / train_svg_fp.py) as svg_tf runs.

A checkpoint is `torch.save({'encoder', 'decoder', 'frame_predictor', 'posterior', ['prior',]
'opt'})`: whole modules plus the training flags. The config comes from `opt` and the weight
shapes (backbone, width, channels, sizes); every tensor is copied into the matching Keras
variable with its layout changed where the frameworks differ (conv kernels OIHW -> HWIO,
transposed-conv kernels IOHW -> HWOI, linear weights transposed; LSTM cells keep PyTorch's gate
order and both biases). Every weight must be used and every shape must match, so a checkpoint
of another architecture fails with the tensor named instead of loading half.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import tensorflow as tf

from svg_tf import run_dir
from svg_tf.config import PRESETS, SVGConfig, get_config
from svg_tf.errors import FileReadError
from svg_tf.input_files import GB, check_input_file
from svg_tf.torch_interop.torch_file import class_path, load, module_state_dict

MODULES = ("encoder", "decoder", "frame_predictor", "posterior", "prior")


class CheckpointError(FileReadError):
    """The file is not an SVG checkpoint this converter understands; says why (the message
    names the file or the flag)."""

    def __init__(self, message: str):
        ValueError.__init__(self, message)
        self.path, self.problem = None, message


MAX_CHECKPOINT_BYTES = 4 * GB  # the authors' largest (BAIR SVG-LP) is about 100 MB


def _key_names(mapping, count=12) -> list[str]:
    """The first keys of a dict from an untrusted file, for a message: strings as they are,
    anything else by its type (str() of a deeply nested key would recurse)."""
    plain = (str, int, float, bool, type(None))
    return sorted(str(k) if isinstance(k, plain) else f"<{type(k).__name__}>"
                  for k in mapping)[:count]


def read_checkpoint(path: str):
    """(opt as a dict, {module name: state_dict of numpy arrays}) from a .pth file."""
    try:
        check_input_file(path, "PyTorch checkpoint (.pth)", MAX_CHECKPOINT_BYTES)
        obj = load(path)
    except FileReadError as error:
        raise CheckpointError(str(error)) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not the dict of modules "
                              "that the authors' training scripts save")
    missing = [m for m in MODULES[:4] if m not in obj]
    if missing:
        raise CheckpointError(f"{path} is not an SVG checkpoint: module(s) {missing} missing "
                              f"(found keys {_key_names(obj)}); expected "
                              f"{list(MODULES)} (prior "
                              "for SVG-LP only) and 'opt'")
    opt = obj.get("opt")
    if isinstance(opt, argparse.Namespace):
        opt = vars(opt)
    elif opt is None:
        opt = {}
    elif not isinstance(opt, dict):
        raise CheckpointError(f"{path}: 'opt' is a {type(opt).__name__}: expected the "
                              "argparse.Namespace of the training flags")
    try:
        states = {name: module_state_dict(obj[name]) for name in MODULES if name in obj}
    except FileReadError as error:
        raise CheckpointError(f"{path}: {error.problem}") from None
    for name, state in states.items():
        if not state:
            raise CheckpointError(f"{path}: module {name!r} ({class_path(obj[name])}) holds "
                                  "no tensors")
    return opt, states


def infer_config(opt: dict, states: dict) -> SVGConfig:
    """The svg_tf config of a checkpoint: its flags, checked against its weight shapes."""
    from svg_tf.models.backbones import REGISTRY

    empty = [(f"{module}.{key}", tuple(value.shape)) for module, state in states.items()
             for key, value in state.items() if 0 in tuple(value.shape)]
    if empty:  # its shape would still set a width: (10**9, 1, 4, 0) passes any size check
        raise CheckpointError(f"{empty[0][0]} has shape {empty[0][1]}, which holds no "
                              "element: an SVG checkpoint has no empty tensor")
    encoder = states["encoder"]
    stage_keys = {name: spec.authors_stage_key for name, spec in REGISTRY.items()
                  if spec.authors_stage_key}
    found = [(name, key) for name, pattern in stage_keys.items() for key in encoder
             if (match := re.fullmatch(pattern, key)) and match.group(1) == "1"]
    if not found:
        known = ", ".join(f"{name} ({pattern})" for name, pattern in stage_keys.items())
        raise CheckpointError(f"encoder: the first conv of none of the known backbones "
                              f"({known}); its tensors are {list(encoder)[:6]}")
    backbone, first = found[0][0], encoder[found[0][1]]
    if opt.get("model") not in (None, backbone):
        raise CheckpointError(f"opt.model={opt.get('model')!r} but the encoder's weights are "
                              f"those of a {backbone} encoder")
    width, channels = int(first.shape[0]), int(first.shape[1])
    # First conv of each down-sampling stage: c<k>.main.0 (dcgan) or c<k>.0.main.0 (vgg).
    pattern = stage_keys[backbone]
    stages = len({match.group(1) for match in (re.fullmatch(pattern, k) for k in encoder)
                  if match})
    image_size = {4: 64, 5: 128}.get(stages)
    if image_size is None:
        raise CheckpointError(f"encoder has {stages} down-sampling stages: expected 4 (64 px) "
                              "or 5 (128 px)")
    g_dim = int(states["frame_predictor"]["output.0.weight"].shape[0])
    rnn_size = int(states["frame_predictor"]["embed.weight"].shape[0])
    z_dim = int(states["posterior"]["mu_net.weight"].shape[0])
    dataset = opt.get("dataset")
    if dataset not in PRESETS:  # unknown or missing: the preset with this architecture
        dataset = next((name for name, p in PRESETS.items()
                        if (p["backbone"], p["channels"]) == (backbone, channels)),
                       next(name for name, p in PRESETS.items() if p["channels"] == channels))
    variant = "lp" if "prior" in states else "fp"
    preset = PRESETS[dataset]

    def flag(name, default):
        value = opt.get(name)
        return default if value is None else value

    def layers(module):
        indices = {int(k.split(".")[1]) for k in states[module] if k.startswith("lstm.")}
        if indices != set(range(len(indices))):  # lstm.999999.* alone would ask for 10**6
            raise CheckpointError(f"{module}: its LSTM layers are numbered "
                                  f"{sorted(indices)[:4]}{'...' if len(indices) > 4 else ''}"
                                  f", not 0 to {len(indices) - 1}")
        return len(indices)

    n_past = int(flag("n_past", preset["n_past"]))
    values = dict(
        backbone=backbone, image_size=image_size, channels=channels, width=width, g_dim=g_dim,
        z_dim=z_dim, rnn_size=rnn_size, predictor_rnn_layers=layers("frame_predictor"),
        posterior_rnn_layers=layers("posterior"), n_past=n_past,
        n_future=int(flag("n_future", preset["n_future"])),
        n_eval=max(int(flag("n_eval", preset["n_eval"])), n_past + 1),
        beta=float(flag("beta", preset["beta"])), lr=float(flag("lr", preset["lr"])),
        beta1=float(flag("beta1", 0.9)), batch_size=int(flag("batch_size", 100)),
        niter=int(flag("niter", 300)), epoch_size=int(flag("epoch_size", 600)),
        seed=int(flag("seed", 1)),
        skip="every" if opt.get("last_frame_skip") else "original", sample_bn="batch")
    if variant == "lp":
        values["prior_rnn_layers"] = layers("prior")
    if opt.get("num_digits") is not None:
        values["num_digits"] = int(opt["num_digits"])
    try:
        return get_config(dataset, variant, **values)
    except ValueError as error:
        raise CheckpointError(f"the checkpoint's flags give an invalid config: {error}") from None


def weight_pairs(model, states):
    """[(keras variable, numpy value, source tensor name)] for every weight of `model`."""
    pairs = backbone_pairs(model, states)
    predictor = states["frame_predictor"]
    pairs += _lstm(model.frame_predictor, predictor, "frame_predictor")
    pairs += _dense(model.frame_predictor.output_layer, predictor, "output.0", "frame_predictor")
    for name in ("posterior", "prior"):
        module = getattr(model, name)
        if module is None:
            continue
        pairs += _lstm(module, states[name], name)
        pairs += _dense(module.mu_layer, states[name], "mu_net", name)
        pairs += _dense(module.logvar_layer, states[name], "logvar_net", name)
    return pairs


def backbone_pairs(model, states):
    """The encoder's and decoder's pairs, named by the backbone spec's `authors_blocks`; a
    backbone without that mapping is refused by name."""
    from svg_tf.models.backbones import REGISTRY

    backbone = model.svg_config.backbone
    spec = REGISTRY.get(backbone)
    if spec is None or spec.authors_blocks is None:
        raise CheckpointError(f"backbone {backbone!r} has no mapping to the authors' tensor "
                              "names (BackboneSpec.authors_blocks): only "
                              f"{[n for n, s in REGISTRY.items() if s.authors_blocks]} convert")
    pairs = []
    for block, module, conv, norm in spec.authors_blocks(model.encoder, model.decoder):
        pairs += _conv_block(block, states[module], conv, norm, module)
    return pairs


def _take(state, key, module):
    if key not in state:
        raise CheckpointError(f"{module}: tensor {key!r} is missing (found {list(state)[:8]}"
                              f"{' ...' if len(state) > 8 else ''})")
    return state[key]


def _conv_block(block, state, conv, norm, module):
    kernel = _take(state, f"{conv}.weight", module)
    if kernel.ndim != 4:
        raise CheckpointError(f"{module}: {conv}.weight has shape {kernel.shape}: expected a "
                              "4-d convolution kernel")
    pairs = [(block.conv.kernel, kernel.transpose(2, 3, 1, 0), f"{module}.{conv}.weight"),
             (block.conv.bias, _take(state, f"{conv}.bias", module), f"{module}.{conv}.bias")]
    if norm is not None:
        for variable, name in ((block.norm.gamma, "weight"), (block.norm.beta, "bias"),
                               (block.norm.moving_mean, "running_mean"),
                               (block.norm.moving_variance, "running_var")):
            pairs.append((variable, _take(state, f"{norm}.{name}", module),
                          f"{module}.{norm}.{name}"))
    return pairs


def _dense(layer, state, prefix, module):
    return [(layer.kernel, _take(state, f"{prefix}.weight", module).T,
             f"{module}.{prefix}.weight"),
            (layer.bias, _take(state, f"{prefix}.bias", module), f"{module}.{prefix}.bias")]


def _lstm(core, state, module):
    pairs = _dense(core.embed, state, "embed", module)
    for i, cell in enumerate(core.cells):
        p = f"lstm.{i}"
        pairs += [(cell.kernel, _take(state, f"{p}.weight_ih", module).T,
                   f"{module}.{p}.weight_ih"),
                  (cell.recurrent_kernel, _take(state, f"{p}.weight_hh", module).T,
                   f"{module}.{p}.weight_hh"),
                  (cell.bias_ih, _take(state, f"{p}.bias_ih", module), f"{module}.{p}.bias_ih"),
                  (cell.bias_hh, _take(state, f"{p}.bias_hh", module), f"{module}.{p}.bias_hh")]
    return pairs


def assign_weights(model, states):
    """Copy every tensor into the model; refuses unused tensors and shape mismatches."""
    pairs = weight_pairs(model, states)
    for variable, value, source in pairs:
        if tuple(value.shape) != tuple(variable.shape):
            raise CheckpointError(f"{source} has shape {tuple(value.shape)} (as svg_tf lays it "
                                  f"out), but {variable.path} expects {tuple(variable.shape)}")
    used = {source for _, _, source in pairs}
    unused = sorted(f"{m}.{k}" for m, state in states.items() for k in state
                    if f"{m}.{k}" not in used and not k.endswith("num_batches_tracked"))
    if unused:
        raise CheckpointError(f"tensors with no place in the svg_tf model: {unused[:8]}"
                              f"{' ...' if len(unused) > 8 else ''}")
    for variable, value, _ in pairs:
        variable.assign(np.asarray(value, variable.dtype))
    covered = {id(v) for v, _, _ in pairs}
    left = [v.path for v in model.weights if id(v) not in covered]
    if left:
        raise CheckpointError(f"svg_tf weights the checkpoint does not fill: {left[:8]}")


def convert(checkpoint: str, logdir: str):
    """Write an svg_tf run directory from one of the authors' PyTorch checkpoints.

    The file is read without unpickling it (svg_tf.torch_interop.torch_file); the config
    comes from its `opt` and its weight shapes; every weight must find its place. The run
    directory is complete or absent.

    Args:
      checkpoint: the authors' .pth (e.g. svglp_bair.pth).
      logdir: a new run directory.

    Returns:
      (config, model).
    """
    from svg_tf.models import build_model

    logdir = run_dir.resolve(logdir)
    if tf.io.gfile.exists(logdir) and tf.io.gfile.listdir(logdir):
        raise CheckpointError(f"--logdir={logdir} exists and is not empty: choose a new "
                              "directory (nothing was written)")
    opt, states = read_checkpoint(checkpoint)
    try:
        config = infer_config(opt, states)
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise CheckpointError(f"{checkpoint}: not an SVG checkpoint this converter "
                              f"understands ({type(error).__name__}: {error})") from None
    model = build_model(config, compile=False)
    assign_weights(model, states)
    try:  # complete or absent: written beside logdir and renamed, under a lock
        with run_dir.new_folder(logdir) as folder:
            run_dir.write_config(folder, config)
            run_dir.save_model(folder, model, step=0)
    except (FileExistsError, run_dir.RunLockedError) as error:
        raise CheckpointError(str(error)) from None
    return config, model
