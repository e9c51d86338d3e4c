"""Writing clip shards resumably, with their manifest: the one mechanism behind the KTH
converter (data/convert_kth.py) and svg_tf.prepare_videos.

A plan maps shard keys ("train/person01_boxing") to the sources that go into that shard.
Each shard is written to NAME.tfrecord.tmp and renamed when complete, and manifest.json is
rewritten atomically after every shard with "complete": false until the last one. So a
killed preparation resumes at the first unfinished shard, a half-written shard never looks
finished, and readers refuse a preparation that did not finish. A re-run whose settings or
sources differ from those the finished shards were made from is refused, never mixed in.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Callable, Iterable

import tensorflow as tf

from svg_tf.datasets.clip_records import clip_example
from svg_tf.errors import FileReadError

MANIFEST = "manifest.json"


LOCK = "prepare.lock"


class PreparationError(ValueError):
    """The output folder holds another preparation than the one asked for, or another
    process writes it."""


def check_output_folder(out_dir: str) -> None:
    """Create `out_dir`, or refuse in one line (FileReadError naming it) a path that is a
    file or that cannot be written (read-only, or a read-only parent)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileReadError(out_dir, "is a file: --out must be a folder (new, or an earlier "
                                     "preparation's to resume)")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        raise FileReadError(out_dir, f"cannot be created ({error.strerror or error}): choose "
                                     "a folder you can write") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise FileReadError(out_dir, "is not writable: choose a folder you can write")


def write_shards(out_dir: str, plan: dict[str, list[str]],
                 read_clips: Callable[[str], Iterable[tuple[str, object, dict]]],
                 settings: dict, *, summarise: Callable[[dict], dict] | None = None,
                 skip_bad: bool = False, unit: str = "video", progress: bool = True,
                 source_name: Callable[[str], str] = os.path.basename) -> dict:
    """Write every shard of `plan` not yet written; returns the manifest.

    Args:
      plan: shard key "split/name" -> its sources (file paths, in order).
      read_clips: source -> iterable of (clip name, uint8 frames `[T, H, W(, C)]`, context).
        It raises FileReadError for a source it cannot read.
      settings: how the data was made (frame size, channels, ...): the manifest's top-level
        fields, which a resume must match.
      summarise: shard infos -> per-split summary (default: clips and frames per split).
      skip_bad: skip unreadable sources (named in the log and the manifest's "skipped")
        instead of stopping at the first.
      source_name: how a source is named in the manifest (default: its file name).

    Returns:
      The manifest as written, plus "frames_this_call" (not written): the frames of the
      shards this call wrote.
    """
    from svg_tf.run_dir import RunLockedError, exclusive

    check_output_folder(out_dir)
    try:  # one writer at a time: two would share shard names and mix their settings
        with exclusive(os.path.join(out_dir, LOCK), logging.warning, lambda holder, since: (
                f"{out_dir} is being prepared by process {holder.get('pid')} on "
                f"{holder.get('host')} since {since}: wait for it, or prepare into another "
                "folder")):
            return _write_shards(out_dir, plan, read_clips, settings, summarise, skip_bad,
                                 unit, progress, source_name)
    except RunLockedError as error:
        raise PreparationError(str(error)) from None


def _write_shards(out_dir, plan, read_clips, settings, summarise, skip_bad, unit, progress,
                  source_name):
    manifest_path = os.path.join(out_dir, MANIFEST)
    old = read_manifest(manifest_path)
    for key, value in settings.items():
        if old is not None and key in old and old[key] != value:
            raise PreparationError(
                f"{out_dir} was prepared with {key}={old[key]!r}, not {value!r}: prepare "
                "into a new folder, or re-run with the flags it was made with")
    shard_info = dict((old or {}).get("shards", {}))
    summarise = summarise or summarise_splits
    todo = [key for key in plan if not _finished(out_dir, key, plan[key], shard_info,
                                                   source_name)]
    bar = _progress(sum(len(plan[k]) for k in todo), progress, unit)

    def save(complete):
        manifest = dict(settings, complete=complete, splits=summarise(shard_info),
                        shards=shard_info)
        os.makedirs(out_dir, exist_ok=True)
        tmp = manifest_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        os.replace(tmp, manifest_path)
        return manifest

    frames = 0
    for key in todo:
        final = os.path.join(out_dir, key + ".tfrecord")
        os.makedirs(os.path.dirname(final), exist_ok=True)
        info = {"clips": 0, "frames": 0, "clip_lengths": [], "clip_names": [],
                "sources": [source_name(s) for s in plan[key]]}
        tmp = final + ".tmp"
        try:
            with tf.io.TFRecordWriter(tmp) as writer:
                for source in plan[key]:
                    frames += _write_source(writer, source, read_clips, info, skip_bad,
                                            tmp + ".source")
                    bar.set_postfix(frames=frames, refresh=False)
                    bar.update(1)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        shard_info[key] = info
        save(complete=False)
    bar.close()
    return dict(save(complete=True), frames_this_call=frames)


def _write_source(writer, source, read_clips, info, skip_bad, staging):
    """Write the clips of one source, or nothing if it fails half-way. Clips are encoded one
    at a time into `staging` (a temporary file) and copied into the shard once the source
    is complete: memory holds one clip, whatever the source's length. Returns its frames."""
    clips = []
    try:
        with tf.io.TFRecordWriter(staging) as staged:
            for name, frames, context in read_clips(source):
                staged.write(clip_example(frames, clip_name=name, **context)
                             .SerializeToString())
                clips.append((name, len(frames)))
        for record in tf.data.TFRecordDataset(staging):
            writer.write(record.numpy())
    except FileReadError as error:
        if not skip_bad:
            raise
        logging.warning("skipped %s", error)
        info.setdefault("skipped", []).append(str(error))
        return 0
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    for name, length in clips:
        info["clips"] += 1
        info["frames"] += length
        info["clip_lengths"].append(length)
        info["clip_names"].append(name)
    return sum(length for _, length in clips)


def _finished(out_dir, key, sources, shard_info, source_name):
    """Whether shard `key` exists from an earlier run made of the same sources; a shard
    made from other sources is refused. A shard finished by a run killed before its
    manifest was rewritten is recounted from its records."""
    final = os.path.join(out_dir, key + ".tfrecord")
    if not os.path.exists(final):
        shard_info.pop(key, None)
        return False
    names = [source_name(s) for s in sources]
    if key not in shard_info:
        shard_info[key] = dict(count_shard(final), sources=names)
    recorded = shard_info[key].get("sources")
    if recorded is not None and recorded != names:
        raise PreparationError(
            f"{final} was made from other sources ({len(recorded)} files, first "
            f"{recorded[:1]}) than this run plans ({len(names)}, first {names[:1]}): the "
            "source folder changed; prepare into a new folder")
    return True


def count_shard(path):
    """Clips, frames, clip lengths and names of a finished shard, read from its records."""
    info = {"clips": 0, "frames": 0, "clip_lengths": [], "clip_names": []}
    for record in tf.data.TFRecordDataset(path):
        context = tf.train.SequenceExample.FromString(record.numpy()).context.feature
        count = int(context["num_frames"].int64_list.value[0])
        name = context["clip_name"].bytes_list.value if "clip_name" in context else []
        info["clips"] += 1
        info["frames"] += count
        info["clip_lengths"].append(count)
        info["clip_names"].append(name[0].decode() if name else f"clip {info['clips'] - 1}")
    return info


def summarise_splits(shard_info: dict) -> dict:
    """split -> {"clips", "frames"} over the shards written so far."""
    splits = {}
    for key, info in shard_info.items():
        entry = splits.setdefault(key.split("/")[0], {"clips": 0, "frames": 0})
        entry["clips"] += info["clips"]
        entry["frames"] += info["frames"]
    return splits


def read_manifest(path):
    if not os.path.exists(path):
        return None
    from svg_tf.json_file import read_json

    return read_json(path, "manifest of an earlier preparation")


def _progress(total, enabled, unit):
    from tqdm import tqdm

    return tqdm(total=total, desc="preparing", unit=unit, disable=not enabled)
