"""KTH Actions: decode the original AVI files into sharded TFRecords of SequenceExamples.

Decoding uses PyAV (`av`), which bundles its own FFmpeg libraries in its wheels: the
original DivX/MPEG-4 AVIs decode in-process on any machine, with no system ffmpeg and no
subprocess, and frames come out exactly as FFmpeg decodes them. Frames are converted to
grayscale and squashed to a square (160x120 -> 64x64), as the authors' ffmpeg `-s 64x64`
does, with the same bicubic scaler.

Layout written to out_dir:
    {train,test}/person{PP}_{action}.tfrecord   one shard per person and action
    manifest.json                               clips and frames per split and action
Each record is one clip in the shared clip format (clip_records): context person (int64),
action, scenario, video (bytes), clip (int64), clip_name, num_frames, height, width;
feature list `frames` holds one PNG per frame. Shards and manifest are written by
shard_writer: a killed conversion resumes, a re-run skips the shards that exist.
"""

from __future__ import annotations

import os
import re

import numpy as np

from svg_tf.datasets import clip_records, shard_writer

ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
_NAME = re.compile(r"person(\d+)_([a-z]+)_(d\d)")


def parse_name(name):
    """'person01_boxing_d1_uncomp.avi' -> (1, 'boxing', 'd1'), or None."""
    match = _NAME.search(os.path.basename(name))
    if not match or match.group(2) not in ACTIONS:
        return None
    return int(match.group(1)), match.group(2), match.group(3)


def parse_persons(text):
    """'1-20' or '1,3,5-7' -> sorted list of ints."""
    persons = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = (int(v) for v in part.split("-"))
            persons.update(range(low, high + 1))
        else:
            persons.add(int(part))
    return sorted(persons)


def parse_sequences_file(path):
    """KTH's 00sequences.txt -> {'person01_boxing_d1': [(start, end), ...]} (1-based,
    inclusive, as in the file)."""
    clips = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "frames" not in line:
                continue
            name, _, ranges = line.partition("frames")
            name = name.strip()
            spans = []
            for start, end in re.findall(r"(\d+)\s*-\s*(\d+)", ranges):
                spans.append((int(start), int(end)))
            if name and spans:
                clips[name] = spans
    return clips


def decode_video(path, image_size=64):
    """All frames of an AVI as uint8 `[T, image_size, image_size]` grayscale."""
    import av

    frames = []
    with av.open(path) as container:
        for frame in container.decode(video=0):
            gray = frame.reformat(width=image_size, height=image_size, format="gray",
                                  interpolation="BICUBIC")
            frames.append(gray.to_ndarray())
    if not frames:
        raise ValueError(f"{path}: no video frames decoded")
    return np.stack(frames)


def clip_example(frames, person, action, scenario, video, clip):
    """One clip of a KTH video as a record (the shared clip format, with KTH's context)."""
    return clip_records.clip_example(frames, person=person, action=action, scenario=scenario,
                                     video=video, clip=clip)


def find_videos(raw_dir):
    videos = []
    for root, _, files in os.walk(raw_dir):
        for name in files:
            if name.lower().endswith(".avi") and parse_name(name):
                videos.append(os.path.join(root, name))
    return sorted(videos)


def convert(raw_dir, out_dir, sequences_file=None, image_size=64, train_persons="1-20",
            test_persons="21-25", progress=True):
    """Convert every KTH AVI under raw_dir; returns the manifest (also written as JSON)."""
    if image_size not in (64, 128):
        raise ValueError(f"image_size={image_size!r} is invalid: expected 64 or 128")
    if not os.path.isdir(raw_dir):
        raise FileNotFoundError(f"--raw_dir={raw_dir} does not exist: download KTH with "
                                "data/download_kth.sh first")
    videos = find_videos(raw_dir)
    if not videos:
        raise FileNotFoundError(f"no KTH videos (personNN_action_dN*.avi) under {raw_dir}")
    sequences = parse_sequences_file(sequences_file) if sequences_file else None
    split_of = {p: "train" for p in parse_persons(train_persons)}
    split_of.update({p: "test" for p in parse_persons(test_persons)})
    shards = {}
    for path in videos:
        person, action, scenario = parse_name(path)
        if person in split_of:
            key = (split_of[person], f"person{person:02d}_{action}")
            shards.setdefault(key, []).append(path)

    plan = {f"{split}/{name}": paths for (split, name), paths in sorted(shards.items())}

    def read_clips(path):
        person, action, scenario = parse_name(path)
        video = f"person{person:02d}_{action}_{scenario}"
        frames = decode_video(path, image_size)
        spans = (sequences.get(video) if sequences is not None else [(1, len(frames))]) or []
        for clip, (start, end) in enumerate(spans):
            clip_frames = frames[start - 1:min(end, len(frames))]
            if len(clip_frames):
                yield f"{video}#{clip}", clip_frames, dict(
                    person=person, action=action, scenario=scenario, video=video, clip=clip)

    settings = {"dataset": "kth", "image_size": image_size, "channels": 1,
                "sequences_file": os.path.basename(sequences_file) if sequences_file else None,
                "train_persons": str(train_persons), "test_persons": str(test_persons)}
    return shard_writer.write_shards(out_dir, plan, read_clips, settings,
                                     summarise=_summarise, progress=progress)


def _summarise(shard_info):
    """Clips and frames per split and per action (the action is in the shard's name)."""
    splits = shard_writer.summarise_splits(shard_info)
    for key, info in shard_info.items():
        split, name = key.split("/")
        actions = splits[split].setdefault("actions", {})
        action = actions.setdefault(name.split("_", 1)[1], {"clips": 0, "frames": 0})
        action["clips"] += info["clips"]
        action["frames"] += info["frames"]
    return splits
