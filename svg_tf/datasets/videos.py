"""Your own videos, prepared by `python -m svg_tf.prepare_videos`: `--dataset=videos`.

The same clip shards and reader as KTH (clip_records): random training windows of seq_len
frames, one fixed window per test clip; clips shorter than seq_len are counted and named,
and a split in which none is long enough is refused before training. The frame size and
channels come from the preparation's manifest; the model starts from a paper preset
(`--preset`, default kth: the paper's setting for real camera footage).
"""

from __future__ import annotations

import os

from svg_tf.datasets import clip_records, records
from svg_tf.datasets.spec import DatasetSpec, restart_seed
from svg_tf.errors import FileReadError

WRITTEN_BY = "python -m svg_tf.prepare_videos"
HOW_TO_GET = (f"Prepare your videos with {WRITTEN_BY} --src=DIR --out=OUT and pass "
              "--data_dir=OUT.")


def shard_files(data_dir, split):
    return clip_records.shard_files(data_dir, split, "videos", HOW_TO_GET)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, image_size=64,
         channels=3, skip_corrupt=False, verify="headers", exclude_files=(), action_dim=0):
    """Prepared videos as a tf.data.Dataset; see `svg_tf.datasets.load` (with action_dim,
    of {"video", "actions"}: videos prepared with actions files)."""
    return clip_records.load_clips(
        split, seq_len=seq_len, data_dir=data_dir, batch_size=batch_size, seed=seed,
        image_size=image_size, channels=channels, name="videos", how_to_get=HOW_TO_GET,
        written_by=WRITTEN_BY, skip_corrupt=skip_corrupt, verify=verify,
        exclude_files=exclude_files, action_dim=action_dim,
        fix="add longer videos, or prepare with a higher --fps or --max_clip_frames")


def fields_from_data(data_dir) -> dict:
    """The config fields the prepared data decides: frame size and channels, and for videos
    prepared with actions files their width and normalisation (as given: offset 0, scale
    1; scale your actions to about [-1, 1] in the files)."""
    if not data_dir or not os.path.isdir(data_dir):
        raise FileReadError(data_dir or "--data_dir", f"is not a folder. {HOW_TO_GET}")
    manifest = clip_records.read_manifest(data_dir, WRITTEN_BY)
    if manifest is None or manifest.get("dataset") != "videos":
        raise FileReadError(os.path.join(data_dir, "manifest.json"),
                            f"missing or not written by {WRITTEN_BY}. {HOW_TO_GET}")
    fields = {"image_size": manifest["image_size"], "channels": manifest["channels"]}
    action_dim = int(manifest.get("action_dim") or 0)
    if action_dim:
        fields.update(action_dim=action_dim, action_offset=(0.0,) * action_dim,
                      action_scale=(1.0,) * action_dim)
    return fields


def _action_dim(config):
    return config.action_dim if config.conditioning == "actions" else 0


SPEC = DatasetSpec(
    name="videos", load=load, needs_data_dir=True, how_to_get=HOW_TO_GET, channels=(1, 3),
    image_sizes=(64, 128),
    train_options=lambda config, step: dict(image_size=config.image_size,
                                            channels=config.channels,
                                            seed=restart_seed(config, step),
                                            action_dim=_action_dim(config)),
    test_options=lambda config, num_sequences: dict(image_size=config.image_size,
                                                    channels=config.channels,
                                                    action_dim=_action_dim(config)),
    cli_options=records.CLI_OPTIONS, shard_files=shard_files, default_preset="kth",
    fields_from_data=fields_from_data)
