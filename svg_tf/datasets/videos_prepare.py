"""Your own videos -> sharded TFRecords that `--dataset=videos` trains on.

The source folder holds train/ and test/ subfolders of video files (mp4, avi, mov, webm,
gif, ...) and/or folders of frames (png, jpg), or any layout listed in a split file (one
`SPLIT PATH` per line, PATH relative to the source folder). A clip may come with actions:
`NAME.actions.npy` or `NAME.actions.csv` beside `NAME.mp4` (or the frame folder NAME), one
row of A numbers per frame; then every clip needs one, and the shards store the actions of
the kept frames (summed over the frames --fps drops). Every source becomes one clip
(or consecutive clips of at most max_clip_frames frames), resized to a square by the chosen
convention (video_files). Written in the KTH converter's format and by the same writer
(clip_records, shard_writer):

    OUT/{train,test}/shard-NNNNN.tfrecord   videos_per_shard sources per shard
    OUT/manifest.json                       settings; clips, frames and names per shard

A killed preparation resumes when the same command runs again.
"""

from __future__ import annotations

import logging
import os
import time

from svg_tf.datasets import shard_writer, video_files
from svg_tf.errors import FileReadError

SPLITS = ("train", "test")
WRITTEN_BY = "python -m svg_tf.prepare_videos"


def plan_sources(src, split_file=None) -> dict[str, list[str]]:
    """split -> its sources (paths), from SRC/train and SRC/test or from the split file."""
    if not os.path.isdir(src):
        raise FileReadError(src, "is not a folder (--src: the folder of your videos)")
    if split_file:
        return _read_split_file(src, split_file)
    missing = [s for s in SPLITS if not os.path.isdir(os.path.join(src, s))]
    if missing:
        raise FileReadError(src, f"has no {' or '.join(m + '/' for m in missing)} subfolder: "
                                 "put the videos in SRC/train and SRC/test, or list them with "
                                 "--split_file")
    plan = {split: video_files.find_sources(os.path.join(src, split)) for split in SPLITS}
    for split, sources in plan.items():
        if not sources:
            raise FileReadError(os.path.join(src, split),
                                f"holds no videos ({', '.join(video_files.VIDEO_EXTENSIONS)}) "
                                "and no folders of frames (png, jpg)")
    return plan


def _read_split_file(src, split_file):
    plan = {split: [] for split in SPLITS}
    try:
        with open(split_file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FileReadError(split_file, f"cannot be read as a split file ({error})") from None
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        split, _, path = line.partition(" ")
        path = path.strip()
        if split not in SPLITS or not path:
            raise FileReadError(split_file, f"line {number}: expected 'train PATH' or "
                                            f"'test PATH', got {line!r}")
        full = os.path.normpath(os.path.join(src, path))
        if not (os.path.isfile(full) or os.path.isdir(full)):
            raise FileReadError(split_file, f"line {number}: {path} does not exist under {src}")
        plan[split].append(full)
    for split in SPLITS:
        if not plan[split]:
            raise FileReadError(split_file, f"lists no {split} videos")
    return plan


def prepare(src, out, *, image_size=64, channels=3, resize="squash", fps=0.0,
            split_file=None, max_clip_frames=1000, videos_per_shard=16, skip_bad=False,
            progress=True) -> dict:
    """Turn a folder of videos into the clip shards `--dataset=videos` trains on.

    Resumable: finished shards are kept and a re-run continues; a re-run with other settings
    or other sources is refused.

    Args:
      src: a folder with train/ and test/ subfolders of video files and frame folders (or
        any folder, with split_file).
      out: the output folder (shards and manifest.json).
      image_size: 64 or 128 (square frames).
      channels: 1 (grayscale) or 3 (RGB).
      resize: squash (whole frame to a square, as KTH) or crop (centred square first).
      fps: keep one frame per 1/fps seconds of a video file (0: every frame). Frame folders
        have no timestamps and keep every frame.
      split_file: lines `train PATH` / `test PATH` (relative to src) instead of subfolders.
      max_clip_frames: longer sources are cut into consecutive clips of this many frames.
      videos_per_shard: source videos per shard file.
      skip_bad: skip unreadable sources (named in the log and the manifest) instead of
        stopping at the first.
      progress: show a progress bar.

    Returns:
      The manifest (dict), with "seconds" and "frames_per_second" of this call added (not
      written).

    Example:
      >>> prepare("my_videos", "data/my_videos", image_size=64)
    """
    _check_settings(image_size, channels, resize, fps, max_clip_frames, videos_per_shard)
    plan = plan_sources(src, split_file)
    shard_writer.check_output_folder(out)
    shards = {}
    for split, sources in plan.items():
        for start in range(0, len(sources), videos_per_shard):
            shards[f"{split}/shard-{start // videos_per_shard:05d}"] = \
                sources[start:start + videos_per_shard]
    sizes = {}

    def name(path):
        return os.path.relpath(path, src)

    action_files, action_dim = _plan_actions(plan, name)

    def read_clips(path):
        # One clip ahead, not the whole source: a clip is named `source#i` when its source
        # has several, which is known once the next one is there (and so is the kept frame
        # after its last one, which its last action leads to).
        kept = {}
        actions = _source_actions(action_files.get(path), action_dim, name(path))
        clips = video_files.read_source(path, image_size, channels, resize, fps,
                                        max_clip_frames, sizes, root=src, kept=kept)
        previous, index, first = next(clips, None), 0, 0

        def context(frames):
            if actions is None:
                return {"source": name(path)}
            return {"source": name(path), "actions": video_files.resample_actions(
                actions, kept, first, len(frames), action_files[path], name(path))}

        for frames in clips:
            yield f"{name(path)}#{index}", previous, context(previous)
            first += len(previous)
            previous, index = frames, index + 1
        if previous is not None:
            yield (name(path) if index == 0 else f"{name(path)}#{index}"), previous, \
                context(previous)

    settings = {"dataset": "videos", "format": 1, "image_size": image_size,
                "channels": channels, "resize": resize, "fps": fps,
                "max_clip_frames": max_clip_frames, "videos_per_shard": videos_per_shard,
                "action_dim": action_dim}
    start = time.perf_counter()
    manifest = shard_writer.write_shards(out, shards, read_clips, settings, skip_bad=skip_bad,
                                         progress=progress, source_name=name)
    _warn_mixed_shapes(sizes, resize)
    seconds = time.perf_counter() - start
    frames = manifest.pop("frames_this_call")
    return dict(manifest, seconds=seconds, frames_per_second=frames / max(seconds, 1e-9))


def _plan_actions(plan, name):
    """({source: its actions file}, action width): every source has an actions file beside
    it (NAME.actions.npy or .csv), or none has; one missing is refused naming it."""
    files = {source: video_files.actions_file(source)
             for sources in plan.values() for source in sources}
    having = [source for source, path in files.items() if path]
    if not having:
        return {}, 0
    missing = [source for source, path in files.items() if not path]
    if missing:
        raise FileReadError(missing[0], f"has no actions file (NAME.actions.npy or .csv) "
                                        f"while {name(having[0])} has one: every clip of a "
                                        "dataset with actions needs its own")
    return files, video_files.read_actions(files[having[0]]).shape[1]


def _source_actions(path, action_dim, source):
    if path is None:
        return None
    actions = video_files.read_actions(path)
    if actions.shape[1] != action_dim:
        raise FileReadError(path, f"holds {actions.shape[1]} numbers per row; the other "
                                  f"clips' actions hold {action_dim}")
    return actions


def _check_settings(image_size, channels, resize, fps, max_clip_frames, videos_per_shard):
    checks = [("image_size", image_size, image_size in (64, 128), "64 or 128"),
              ("channels", channels, channels in (1, 3), "1 or 3"),
              ("resize", resize, resize in video_files.RESIZE_MODES,
               " or ".join(video_files.RESIZE_MODES)),
              ("fps", fps, isinstance(fps, (int, float)) and 0 <= fps < float("inf"),
               "a number >= 0 (0: every frame)"),
              ("max_clip_frames", max_clip_frames,
               isinstance(max_clip_frames, int) and max_clip_frames >= 2, "an integer >= 2"),
              ("videos_per_shard", videos_per_shard,
               isinstance(videos_per_shard, int) and videos_per_shard >= 1, "an integer >= 1")]
    for flag, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"--{flag}={value!r} is invalid: expected {expected}")


def _warn_mixed_shapes(sizes, resize):
    """Squashing sources of different aspect ratios distorts them differently: say so once,
    naming two of them and the way out."""
    ratios = {}
    for path, (width, height) in sizes.items():
        ratios.setdefault(round(width / height, 2), path)
    if resize == "squash" and len(ratios) > 1:
        (r1, p1), (r2, p2) = list(ratios.items())[:2]
        logging.warning("sources differ in aspect ratio (%s is %.2f:1, %s is %.2f:1): squashed "
                        "to squares they are distorted differently; --resize=crop keeps "
                        "their shapes", p1, r1, p2, r2)
