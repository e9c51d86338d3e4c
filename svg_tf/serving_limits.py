"""The largest request an exported model accepts: a module of its own, free of TensorFlow,
so that the export program checks its flags (which default to these) before TensorFlow
loads. The serving graph enforces them (svg_tf.serving)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Bounds on one request, enforced in the exported graph. The defaults cover the paper's
    evaluation (100 samples, up to 100 frames) one sequence at a time; max_frames bounds
    memory: a request for 1,000 samples of one SM-MNIST context was reported to use 2.6 GB
    and one for 10,000 samples to pass 16 GB; not re-measured here."""

    max_batch: int = 64
    max_num_samples: int = 100
    max_n_future: int = 100
    max_frames: int = 10_000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or not 1 <= value < 2 ** 31:
                raise ValueError(f"{field.name}={value!r} is invalid: expected an integer "
                                 f"from 1 to {2 ** 31 - 1:,} (requests carry int32 counts)")
