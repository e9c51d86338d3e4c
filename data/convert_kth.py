"""Convert the KTH Actions AVI files to sharded TFRecords for svg_tf.

    python data/convert_kth.py --raw_dir=kth_raw --out_dir=kth_64 \
        --sequences_file=kth_raw/00sequences.txt [--image_size=64|128] \
        [--train_persons=1-20] [--test_persons=21-25]

Re-running skips finished shards. See svg_tf/datasets/kth_convert.py for the format.
"""

from absl import app, flags

from svg_tf.datasets.kth_convert import convert

flags.DEFINE_string("raw_dir", None, "Folder with KTH's personNN_action_dN_uncomp.avi files.")
flags.DEFINE_string("out_dir", None, "Where the TFRecord shards and manifest.json go.")
flags.DEFINE_string("sequences_file", None,
                    "KTH's 00sequences.txt: cut videos into its sub-sequences (recommended; "
                    "without it each video is one clip).")
flags.DEFINE_enum("image_size", "64", ["64", "128"], "Square frame size in pixels.")
flags.DEFINE_string("train_persons", "1-20", "Persons of the training split (original 1-20).")
flags.DEFINE_string("test_persons", "21-25", "Persons of the test split (original 21-25).")
flags.mark_flags_as_required(["raw_dir", "out_dir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        manifest = convert(FLAGS.raw_dir, FLAGS.out_dir, FLAGS.sequences_file,
                           int(FLAGS.image_size), FLAGS.train_persons, FLAGS.test_persons)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error))
    for split, info in sorted(manifest["splits"].items()):
        print(f"{split}: {info['clips']} clips, {info['frames']} frames")
    print(f"wrote {FLAGS.out_dir}/manifest.json")


if __name__ == "__main__":
    app.run(main)
