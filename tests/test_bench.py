"""The benchmark is a measurement, not a test: check it runs and reports its documented keys."""

import pytest

from svg_tf import bench

KEYS = ("train_seq_per_s", "train_seq_per_s_no_xla", "conv_bound_seq_per_s", "train_vs_bound",
        "sample_frames_per_s", "sample_vs_bound", "data_seq_per_s", "data_seq_per_s_bair",
        "data_seq_per_s_kth", "data_vs_train", "peak_rss_mb", "settings")


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_bench_reports_documented_keys():
    results = bench.run("smmnist", batch_size=2, repeats=1, num_samples=2, jit="off",
                        data_batches=2, width=8, g_dim=16, z_dim=4, rnn_size=32, n_past=2,
                        n_future=2)
    for key in KEYS:
        assert key in results, key
    for key in KEYS[:-1]:
        assert results[key] > 0, key
    assert results["train_vs_bound"] == pytest.approx(
        results["train_seq_per_s"] / results["conv_bound_seq_per_s"])
    assert "train_vs_bound" in bench.format_table(results)
