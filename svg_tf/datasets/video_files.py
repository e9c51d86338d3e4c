"""Reading a user's videos: video files (decoded in-process by PyAV's bundled FFmpeg) and
folders of frames (read by Pillow), as uint8 clips of square frames.

Resize conventions (`resize`):
  squash  the whole frame is resized to a square, as the KTH conversion does (and the
          authors' `ffmpeg -s 64x64`): nothing is cut, a non-square frame is distorted.
  crop    the largest centred square is cut out first, then resized: shapes are kept,
          the sides (or top and bottom) are lost.
Both resize with a bicubic filter: FFmpeg's scaler for video files (as the KTH conversion;
crop scales the short side to the target size and cuts the centre, which is cheaper than
cropping at full size and equal up to the filter at the cut), Pillow's for frame folders. A
source is one clip, cut into consecutive clips of at most `max_clip_frames` frames so that a
long recording never has to fit in memory at once.
"""

from __future__ import annotations

import os
import re
import stat

import numpy as np

from svg_tf.errors import FileReadError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".gif", ".mkv", ".m4v", ".mpg", ".mpeg")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
RESIZE_MODES = ("squash", "crop")
# Frames larger than this are refused before decoding: a video file is untrusted input, and
# its header alone decides how much memory each decoded frame takes (8K video is 33 MP).
MAX_FRAME_PIXELS = 64 * 1024 * 1024


def is_video(path) -> bool:
    return str(path).lower().endswith(VIDEO_EXTENSIONS)


def is_frame(path) -> bool:
    return str(path).lower().endswith(FRAME_EXTENSIONS)


def natural_key(name: str):
    """'frame10.png' after 'frame9.png': numbers compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_sources(folder) -> list[str]:
    """The clips under `folder`: every video file, and every folder that directly holds
    frames (png/jpg), sorted by path."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        if any(is_frame(f) for f in files):
            found.append(root)
        found.extend(os.path.join(root, f) for f in files if is_video(f))
    return sorted(found, key=natural_key)


def square(image, size: int, channels: int, resize: str = "squash") -> np.ndarray:
    """A PIL image -> uint8 `[size, size, channels]` by the `resize` convention."""
    from PIL import Image

    if resize not in RESIZE_MODES:
        raise ValueError(f"resize={resize!r} is invalid: expected one of {list(RESIZE_MODES)}")
    image = image.convert("L" if channels == 1 else "RGB")
    if resize == "crop":
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    array = np.asarray(image.resize((size, size), Image.BICUBIC), np.uint8)
    return array.reshape(size, size, channels)


def check_source(path, root=None) -> str:
    """"file" or "folder": what a source is, after refusing (FileReadError naming it) a
    dangling or looping symlink, a symlink that leaves `root` (--src), a path named like a
    video that is no regular file (a folder, a device, a pipe), and anything unreadable."""
    if os.path.islink(path):
        try:
            target = os.path.realpath(path, strict=True)
        except OSError as error:
            problem = ("a symlink loop" if getattr(error, "errno", None) == 40
                       else "a symlink to a missing file")
            raise FileReadError(path, f"is {problem}: not a video") from None
        if root is not None and os.path.commonpath(
                [os.path.realpath(root), target]) != os.path.realpath(root):
            raise FileReadError(path, f"is a symlink to {target}, outside --src={root}: copy "
                                      "the video into --src instead")
    try:
        info = os.stat(path)
    except OSError as error:
        raise FileReadError(path, f"cannot be read ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode) and not is_video(path):
        kind = "folder"
    elif stat.S_ISREG(info.st_mode) and is_video(path):
        kind = "file"
    else:
        raise FileReadError(path, "is named like a video but is not a regular file"
                            if is_video(path) else "is not a folder of frames")
    if not os.access(path, os.R_OK | (os.X_OK if kind == "folder" else 0)):
        raise FileReadError(path, "cannot be read (permission denied)")
    return kind


def read_source(path, image_size: int, channels: int, resize: str = "squash",
                fps: float = 0, max_clip_frames: int = 1000, sizes: dict | None = None,
                root=None, kept: dict | None = None):
    """Yield the clips of one source: uint8 `[T, S, S, C]` arrays of at most
    `max_clip_frames` frames, decoded one clip at a time (memory is bounded by one clip,
    whatever the source's length); FileReadError naming the file when it cannot be read.
    `sizes`, if given, receives the source's frame size: sizes[path] = (width, height).
    `root`: the folder symlinks must stay in (--src). `kept`, if given, receives the source
    index of every frame kept (kept["indices"]) and, at the end, how many frames the source
    holds (kept["decoded"]): what resampling its actions needs."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize={resize!r} is invalid: expected one of {list(RESIZE_MODES)}")
    kind = check_source(path, root)
    reader = _video_frames if kind == "file" else _folder_squares
    frames = reader(path, fps, image_size, channels, resize, sizes,
                    {} if kept is None else kept)
    clip = []
    for frame in frames:
        clip.append(frame)
        if len(clip) == max_clip_frames:
            yield np.stack(clip)
            clip = []
    if clip:
        yield np.stack(clip)


def _folder_squares(folder, fps, size, channels, resize, sizes=None, kept=None):
    """Square uint8 frames of a folder of frames (no timestamps: `fps` does not apply)."""
    kept = {} if kept is None else kept
    kept["indices"] = []
    for index, image in enumerate(_folder_frames(folder)):
        if sizes is not None:
            sizes.setdefault(folder, image.size)
        kept["indices"].append(index)
        yield square(image, size, channels, resize)
    kept["decoded"] = len(kept["indices"])


def _scaled(frame, size, channels, resize):
    """A decoded video frame -> uint8 `[size, size, channels]`, scaled by FFmpeg."""
    width, height = frame.width, frame.height
    if resize == "crop":  # the short side to `size`, then the centred square
        scale = size / min(width, height)
        width, height = max(size, round(width * scale)), max(size, round(height * scale))
    else:
        width = height = size
    pixels = frame.reformat(width=width, height=height,
                            format="gray" if channels == 1 else "rgb24",
                            interpolation="BICUBIC").to_ndarray()
    top, left = (height - size) // 2, (width - size) // 2
    return pixels[top:top + size, left:left + size].reshape(size, size, channels)


def _video_frames(path, fps, size, channels, resize, sizes=None, kept=None):
    """Square uint8 frames of a video file, keeping one frame per 1/fps seconds when fps > 0;
    `sizes` receives the source's frame size, `kept` the kept frames' indices."""
    import av

    kept = {} if kept is None else kept
    kept["indices"] = []
    decoded = 0
    if os.path.getsize(path) == 0:
        raise FileReadError(path, "is empty (0 bytes): not a video")
    count = 0
    next_time = 0.0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FileReadError(path, "has no video stream")
            stream = container.streams.video[0]
            if (stream.width or 0) * (stream.height or 0) > MAX_FRAME_PIXELS:
                raise FileReadError(path, f"declares {stream.width}x{stream.height} frames, "
                                          f"more than {MAX_FRAME_PIXELS:,} pixels: refused")
            for frame in container.decode(video=0):
                if frame.width * frame.height > MAX_FRAME_PIXELS:  # not only the header's
                    raise FileReadError(path, f"frame {count + 1} is {frame.width}x"
                                              f"{frame.height}, more than "
                                              f"{MAX_FRAME_PIXELS:,} pixels: refused")
                time = frame.time
                decoded += 1
                if fps > 0 and time is not None:
                    if time + 1e-6 < next_time:
                        continue
                    next_time = max(next_time + 1.0 / fps, time)
                count += 1
                kept["indices"].append(decoded - 1)
                if sizes is not None:
                    sizes.setdefault(path, (frame.width, frame.height))
                yield _scaled(frame, size, channels, resize)
    except FileReadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise FileReadError(path, f"cannot be decoded as a video ({error})") from None
    if count == 0:
        raise FileReadError(path, "holds no video frames")
    kept["decoded"] = decoded


# -- actions beside a source: NAME.actions.npy or NAME.actions.csv, one row per frame -------
ACTION_SUFFIXES = (".actions.npy", ".actions.csv")
MAX_ACTION_DIM = 64


def actions_file(source) -> str | None:
    """The actions file of a source (a video NAME.mp4 or a frame folder NAME), if any."""
    stem = str(source).rstrip(os.sep)
    if is_video(stem):
        stem = os.path.splitext(stem)[0]
    found = [stem + suffix for suffix in ACTION_SUFFIXES if os.path.lexists(stem + suffix)]
    return found[0] if found else None


def read_actions(path) -> np.ndarray:
    """float32 `[frames, A]` of an actions file (.npy without pickles, or .csv of numbers);
    FileReadError naming it when it is not a finite 2-D table of at most 64 columns."""
    from svg_tf.input_files import GB, check_input_file

    check_input_file(path, "actions file (.npy or .csv, one row per frame)", GB)
    try:
        if path.endswith(".npy"):
            actions = np.load(path, allow_pickle=False)
        else:
            actions = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
        actions = np.asarray(actions, np.float32)
    except (ValueError, OSError, TypeError) as error:
        raise FileReadError(path, f"cannot be read as a table of numbers ({error})") from None
    if actions.ndim == 1:
        actions = actions[:, None]
    if actions.ndim != 2 or not 1 <= actions.shape[1] <= MAX_ACTION_DIM or not len(actions):
        raise FileReadError(path, f"holds an array of shape {actions.shape}: expected "
                                  f"[frames, A] with 1 <= A <= {MAX_ACTION_DIM}")
    if not np.isfinite(actions).all():
        raise FileReadError(path, "holds NaN or Inf")
    return actions


def resample_actions(actions, kept, first, count, path, source):
    """The actions of kept frames first .. first+count-1 of a source (`kept`: what
    read_source filled in): the action after a kept frame is the sum of the source's actions
    from it to the next kept frame (displacements add up over the frames --fps drops). The
    file must hold one row per frame of the source (checked with the last frame)."""
    indices = kept["indices"]
    last = first + count >= len(indices) and "decoded" in kept
    if last and kept["decoded"] != len(actions):
        raise FileReadError(path, f"holds {len(actions)} rows for the {kept['decoded']} "
                                  f"frames of {source}: expected one action per frame")
    bounds = indices[first:first + count + 1]
    if len(bounds) == count:  # the source's last frame: up to its end
        bounds = bounds + [kept["decoded"] if "decoded" in kept else len(actions)]
    if bounds[-1] > len(actions):
        raise FileReadError(path, f"holds {len(actions)} rows, fewer than the frames of "
                                  f"{source}: expected one action per frame")
    return np.stack([actions[bounds[j]:bounds[j + 1]].sum(0)
                     for j in range(count)]).astype(np.float32)


def _folder_frames(folder):
    """PIL images of the frames in a folder, in natural name order; all of one size."""
    from PIL import Image, UnidentifiedImageError

    names = sorted((f for f in os.listdir(folder) if is_frame(f)), key=natural_key)
    if not names:
        raise FileReadError(folder, "holds no frames (png, jpg)")
    size = None
    for name in names:
        path = os.path.join(folder, name)
        try:
            with Image.open(path) as image:
                image.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
            raise FileReadError(path, f"cannot be read as an image ({error})") from None
        if size is None:
            size = image.size
        elif image.size != size:
            raise FileReadError(path, f"is {image.size[0]}x{image.size[1]} pixels while the "
                                      f"first frame of its folder is {size[0]}x{size[1]}: "
                                      "the frames of one clip must have one size")
        yield image
