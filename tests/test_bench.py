"""The benchmark is a measurement, not a test: check it runs and reports its documented keys."""

import pytest

from svg_tf import bench

pytestmark = pytest.mark.seconds(23)

KEYS = ("train_seq_per_s", "train_seq_per_s_no_xla", "conv_bound_seq_per_s", "train_vs_bound",
        "sample_frames_per_s", "sample_vs_bound", "data_seq_per_s", "data_seq_per_s_bair",
        "data_seq_per_s_kth", "data_vs_train", "flops_per_train_sequence", "train_gflops",
        "gemm_fp32_gflops", "train_vs_gemm_peak", "rollout_frames_per_s", "rollout_vs_bound",
        "rollout_loop_frames_per_s", "rollout_speedup_over_loop", "peak_rss_mb", "settings")


@pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")
def test_bench_reports_documented_keys():
    results = bench.run("smmnist", batch_size=2, repeats=1, num_samples=2, jit="off",
                        data_batches=2, gemm_size=256, bf16=True, i3d=None, width=8, g_dim=16,
                        z_dim=4, rnn_size=32, n_past=2, n_future=2,
                        rollout_overrides=dict(candidates=6, horizon=2, loop_candidates=2,
                                               width=8, g_dim=16, z_dim=4, rnn_size=32,
                                               n_past=2))
    for key in KEYS:
        assert key in results, key
    for key in KEYS[:-1]:
        assert results[key] > 0, key
    assert results["train_vs_bound"] == pytest.approx(
        results["train_seq_per_s"] / results["conv_bound_seq_per_s"])
    assert "train_vs_bound" in bench.format_table(results)
    assert results["train_vs_gemm_peak"] == pytest.approx(
        results["train_seq_per_s"] * results["flops_per_train_sequence"] / 1e9
        / results["gemm_fp32_gflops"])
    assert results["bf16_speedup"] == pytest.approx(
        results["train_seq_per_s_bf16"] / results["train_seq_per_s"])
    assert results["gemm_bf16_gflops"] > 0
    assert results["rollout_speedup_over_loop"] == pytest.approx(
        results["rollout_frames_per_s"] / results["rollout_loop_frames_per_s"])


def test_profile_trace_names_the_convolutions_as_the_top_ops(tmp_path):
    """The trace of a training step is read back without the profile plugin; the tiny
    model's time goes to its convolutions (forward and both backward passes)."""
    from conftest import tiny_config
    from svg_tf import profiling

    logdir = profiling.trace_training(tiny_config("lp"), 2, str(tmp_path / "trace"), steps=1)
    rows = profiling.top_ops(logdir, count=8)
    assert len(rows) == 8 and all(ms > 0 for _, ms, _ in rows)
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    assert 0 < sum(share for _, _, share in rows) <= 1.0 + 1e-9
    assert any("Conv2DBackprop" in name for name, _, _ in rows[:4])
