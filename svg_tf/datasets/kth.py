"""KTH Actions from the TFRecord shards written by data/convert_kth.py.

Train: a random clip, then a random window of seq_len consecutive frames in it (as the
authors' loader). Test: every clip once, each with one fixed window drawn from (seed, clip
index). The record format and reader are shared with your own videos (clip_records).
"""

from __future__ import annotations

from svg_tf.datasets import clip_records, records
from svg_tf.datasets.spec import DatasetSpec, restart_seed

HOW_TO_GET = ("Download KTH with data/download_kth.sh RAW, then convert it with "
              "python data/convert_kth.py --raw_dir=RAW --out_dir=DIR "
              "--sequences_file=RAW/00sequences.txt (the authors' clip boundaries) and pass "
              "data_dir=DIR.")
WRITTEN_BY = "data/convert_kth.py"


def shard_files(data_dir, split):
    return clip_records.shard_files(data_dir, split, "kth", HOW_TO_GET)


def load(split, *, seq_len, data_dir=None, batch_size=None, seed=None, image_size=64,
         skip_corrupt=False, verify="headers", exclude_files=()):
    """KTH as a tf.data.Dataset of grayscale windows; see `svg_tf.datasets.load`."""
    return clip_records.load_clips(
        split, seq_len=seq_len, data_dir=data_dir, batch_size=batch_size, seed=seed,
        image_size=image_size, channels=1, name="kth", how_to_get=HOW_TO_GET,
        written_by=WRITTEN_BY, skip_corrupt=skip_corrupt, verify=verify,
        exclude_files=exclude_files)


SPEC = DatasetSpec(
    name="kth", load=load, needs_data_dir=True, how_to_get=HOW_TO_GET, channels=(1,),
    image_sizes=(64, 128),
    train_options=lambda config, step: dict(image_size=config.image_size,
                                            seed=restart_seed(config, step)),
    test_options=lambda config, num_sequences: dict(image_size=config.image_size),
    cli_options=records.CLI_OPTIONS, shard_files=shard_files)
