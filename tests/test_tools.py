"""Documentation tooling outside the package: reading training curves back from a run."""

import os
import sys
import time

import pytest
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from loss_curves import read_scalar  # noqa: E402


def _write(run, values):
    writer = tf.summary.create_file_writer(os.path.join(run, "train"))
    with writer.as_default():
        for step, value in values.items():
            tf.summary.scalar("per_frame/loss", value, step=step)
            tf.summary.scalar("per_frame/kl", -value, step=step)
    writer.close()


def test_read_scalar_takes_the_tag_and_the_resumed_run_last(tmp_path):
    run = str(tmp_path)
    _write(run, {50: 0.5, 100: 0.25})
    time.sleep(1.1)  # a resumed run opens a later event file
    _write(run, {100: 0.2, 150: 0.125})
    assert read_scalar(run, "per_frame/loss") == pytest.approx({50: 0.5, 100: 0.2, 150: 0.125})
    with pytest.raises(ValueError, match="no scalar 'mse'"):
        read_scalar(run, "mse")
    with pytest.raises(ValueError, match="no TensorBoard event files"):
        read_scalar(str(tmp_path / "missing"), "per_frame/loss")


def test_prior_over_training_reads_the_logged_value_at_or_before_a_step():
    from prior_over_training import at_step, markdown

    values = {50: 0.5, 100: 0.25, 150: 0.125}
    assert at_step(values, 100) == 0.25 and at_step(values, 149) == 0.25
    assert at_step(values, 10) is None
    table = markdown([{"step": 1000, "ratio": 1.014, "best_shift": -1,
                       "best_shift_ratio": 1.027, "loss": 0.0123, "kl": 0.45}])
    assert "| 1,000 | 1.014 | -1 (1.027) | 0.01230 | 0.450 |" in table


def test_the_svg_prime_size_table_counts_the_closed_form():
    """tools/svg_prime_sizes.py, the K/M table's source: K = width / 64, M = rnn_size / 512,
    the recurrent parts as their closed form (g 128, z 10: predictor, posterior, prior)."""
    from svg_prime_sizes import sizes
    from test_conv_recurrent import closed_form

    row = sizes("smmnist", 1 / 16, 6 / 512)
    assert (row["width"], row["rnn_size"]) == (4, 6)
    assert row["recurrent"] == (closed_form(128 + 10, 6, 2, 128, 1)
                                + 2 * closed_form(128, 6, 1, 10, 2))
    assert row["parameters"] > row["recurrent"] and row["gflop"] > 0
