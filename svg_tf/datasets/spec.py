"""What the rest of the program needs to know about a dataset, in one object.

Each dataset module exports one `DatasetSpec` named SPEC; `svg_tf.datasets.REGISTRY` lists
them. Config validation, the training loop, evaluation and the CLIs ask the spec instead of
testing the dataset's name, so a new dataset is one module plus one registry line.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable


def restart_seed(config, step: int) -> int:
    """Seed of a file-backed training stream resumed at `step`: a fresh shuffled order that
    is reproducible without re-reading what was already consumed."""
    return config.seed * 1_000_003 + step


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """The actions a dataset's batches carry beside the video (`{"video", "actions"}`):
    dim floats per frame, actions[:, t] taken between frame t and t+1 (the last unused).
    The model sees (action - offset) / scale per dimension: how this dataset's actions are
    normalised, stored in a conditioned run's config so that training, evaluation, export
    and planning apply the same. low/high: the raw range a planner may search."""
    dim: int
    names: tuple[str, ...]
    offset: tuple[float, ...]
    scale: tuple[float, ...]
    low: float
    high: float
    description: str


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """name: the --dataset value.
    load: `load(split, *, seq_len, data_dir, batch_size, seed, **options)` -> tf.data.Dataset.
    needs_data_dir: training and evaluation read files from a data_dir (else optional).
    how_to_get: one sentence on where the data comes from (shown in errors and --help).
    channels, image_sizes: what the data can provide (the config refuses anything else).
    train_options(config, step): keyword arguments of `load` for the training stream that
        continues at `step` (may override `seed`).
    test_options(config, num_sequences): keyword arguments of `load` that define the test
        set (which sequences, how many).
    cli_options: dataset option -> name of the command-line flag that sets it (train,
        evaluate and generate pass these through when the flag exists).
    shard_files(data_dir, split): the record files of a split, for tracing a damaged
        record met while streaming to its file (None: the data is not read from files).
    default_preset: for a dataset without paper settings of its own, the paper preset its
        model starts from (`--preset` chooses another).
    fields_from_data(data_dir): config fields the data decides (e.g. frame size and
        channels from a manifest); a flag that disagrees is refused.
    actions: the ActionSpec of a dataset whose batches carry actions (None: video only).
    """

    name: str
    load: Callable[..., Any]
    needs_data_dir: bool
    how_to_get: str
    channels: tuple[int, ...]
    image_sizes: tuple[int, ...]
    train_options: Callable[[Any, int], dict]
    test_options: Callable[[Any, int], dict]
    cli_options: dict[str, str] = dataclasses.field(default_factory=dict)
    shard_files: Callable[[str, str], list] | None = None
    default_preset: str | None = None
    fields_from_data: Callable[[str], dict] | None = None
    actions: ActionSpec | None = None

    def options_from_flags(self, flag_values) -> dict:
        """The dataset options set by command-line flags that this dataset accepts."""
        return {option: getattr(flag_values, flag) for option, flag in self.cli_options.items()
                if flag in flag_values and getattr(flag_values, flag) is not None}
