"""Prepare your own videos for training: `python -m svg_tf.prepare_videos --src=DIR --out=OUT`.

DIR holds train/ and test/ subfolders of video files (mp4, avi, mov, webm, gif, ...) and/or
folders of frames (png, jpg), or --split_file lists them. OUT receives TFRecord shards and a
manifest; then `python -m svg_tf.train --dataset=videos --data_dir=OUT`. Re-running the same
command resumes a preparation that was killed.
"""

from __future__ import annotations

from absl import app, flags

from svg_tf import cli

FLAGS = flags.FLAGS


def define_flags():
    from svg_tf.datasets.video_files import RESIZE_MODES

    flags.DEFINE_string("src", None, "Folder of your videos: train/ and test/ subfolders of "
                        "video files and/or folders of frames (or any layout, with "
                        "--split_file).")
    flags.DEFINE_string("out", None, "Output folder for the shards and manifest.json (the "
                        "--data_dir of training).")
    flags.DEFINE_enum("image_size", "64", ["64", "128"], "Square frame size in pixels.")
    flags.DEFINE_enum("channels", "3", ["1", "3"], "1: grayscale, 3: RGB.")
    flags.DEFINE_enum("resize", "squash", list(RESIZE_MODES),
                      "squash: the whole frame to a square (as the KTH conversion; a "
                      "non-square frame is distorted); crop: the centred square, then "
                      "resized (shapes kept, edges lost).")
    flags.DEFINE_float("fps", 0, "Keep one frame per 1/fps seconds of each video file (0: "
                       "every frame; frames are never repeated). Folders of frames keep "
                       "every frame.")
    flags.DEFINE_string("split_file", None, "Text file of `train PATH` / `test PATH` lines, "
                        "PATH relative to --src (instead of train/ and test/ subfolders).")
    flags.DEFINE_integer("max_clip_frames", 1000, "Longer videos are cut into consecutive "
                         "clips of this many frames (bounds memory in preparation and "
                         "training).")
    flags.DEFINE_integer("videos_per_shard", 16, "Source videos per TFRecord shard.")
    flags.DEFINE_boolean("skip_bad", False, "Skip videos that cannot be read (named in the "
                         "log and the manifest) instead of stopping at the first.")


def main(argv):
    cli.check_arguments(argv, "src", "out")
    from svg_tf.datasets.shard_writer import PreparationError
    from svg_tf.datasets.videos_prepare import prepare
    from svg_tf.errors import FileReadError

    try:  # a source that cannot be read: FileReadError, one line naming it (cli)
        manifest = prepare(FLAGS.src, FLAGS.out, image_size=int(FLAGS.image_size),
                           channels=int(FLAGS.channels), resize=FLAGS.resize, fps=FLAGS.fps,
                           split_file=FLAGS.split_file, max_clip_frames=FLAGS.max_clip_frames,
                           videos_per_shard=FLAGS.videos_per_shard, skip_bad=FLAGS.skip_bad)
    except FileReadError:
        raise
    except (PreparationError, ValueError) as error:  # flag values, or another preparation
        raise app.UsageError(str(error))
    for split, info in sorted(manifest["splits"].items()):
        print(f"{split}: {info['clips']} clips, {info['frames']} frames")
    skipped = sum(len(s.get("skipped", [])) for s in manifest["shards"].values())
    if skipped:
        print(f"skipped {skipped} unreadable source(s): listed in {FLAGS.out}/manifest.json")
    print(f"{manifest['frames_per_second']:.0f} frames per second "
          f"({manifest['seconds']:.1f} s this call)")
    print(f"wrote {FLAGS.out}/manifest.json; next: python -m svg_tf.train --dataset=videos "
          f"--data_dir={FLAGS.out}")
    return 0


def entry_point():
    """The program (python -m, or its console script)."""
    cli.run(main, define_flags)


if __name__ == "__main__":
    entry_point()
