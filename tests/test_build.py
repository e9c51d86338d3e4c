"""svg_tf/models/build.py: a compiled model is ready to train."""

import keras
import tensorflow as tf

from conftest import tiny_config
from svg_tf import build_model
from svg_tf.datasets.synthetic import bouncing_squares


def test_fit_traces_the_training_step_once():
    """The optimizer's slots exist before the first step: a tf.function whose first call
    creates variables is traced twice (a tiny fit took 14.0 s with the second trace, 8.6 s
    without)."""
    keras.utils.set_random_seed(0)
    config = tiny_config("det", n_past=2, n_future=1, n_eval=3)
    model = build_model(config)
    assert len(model.optimizer.variables) > 2 * len(model.trainable_variables)  # Adam's m, v
    traces = []
    step = model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    model.train_step = counted
    videos = bouncing_squares(8, config.seq_len, seed=0)
    data = tf.data.Dataset.from_tensor_slices(videos).repeat().batch(config.batch_size)
    model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
    assert len(traces) == 1
    assert int(model.optimizer.iterations) == 3
