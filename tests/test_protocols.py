"""Evaluation protocols and the metric registry, without a model."""

import numpy as np
import pytest

from svg_tf import metrics, protocols
from svg_tf.config import get_config
from svg_tf.metrics.frechet_video import collect


def test_protocol_settings_per_dataset_and_explicit_overrides():
    srvp_kth = protocols.settings("srvp", get_config("kth"))
    assert (srvp_kth["num_sequences"], srvp_kth["n_eval"], srvp_kth["num_samples"]) == (
        1000, 40, 100)
    assert (srvp_kth["select"], srvp_kth["ssim"], srvp_kth["fvd_frames"]) == (
        "per_metric", "gaussian", "context+predicted")
    mnist = protocols.settings("srvp", get_config("smmnist"))
    assert (mnist["num_sequences"], mnist["n_eval"]) == (10_000, 25)  # 5 -> 20
    paper = protocols.settings("paper", get_config("bair"), num_sequences=16)
    assert paper["num_sequences"] == 16 and paper["select"] == "ssim_mean"
    assert paper["ssim"] == "svg" and paper["protocol"] == "paper"
    fitvid = protocols.settings("fitvid", get_config("bair"))
    assert fitvid["fvd_frames"] == "predicted" and fitvid["num_sequences"] == 256
    custom = protocols.settings(None, get_config("kth"))
    assert custom["n_eval"] == 40 and custom["protocol"] == "custom"


def test_protocol_refusals_name_the_problem():
    with pytest.raises(ValueError, match="protocol='fitvid' is defined for \\['bair'\\]"):
        protocols.settings("fitvid", get_config("kth"))
    with pytest.raises(ValueError, match="conditions on 5 frames.*n_past=3"):
        protocols.settings("srvp", get_config("smmnist", n_past=3))
    with pytest.raises(ValueError, match="protocol='vbench'"):
        protocols.settings("vbench", get_config("smmnist"))


def test_registry_declares_each_metric_and_resolves_names():
    for name, metric in metrics.REGISTRY.items():
        assert metric.name == name and metric.kind in (metrics.FRAME, metrics.VIDEO_SET)
        assert metric.convention
    assert [m.name for m in metrics.resolve(None)] == ["ssim", "ssim_svg", "psnr"]
    assert [m.name for m in metrics.resolve(None, available=["i3d"])][-1] == "fvd"
    assert [m.name for m in metrics.resolve("psnr, lpips")] == ["psnr", "lpips"]
    with pytest.raises(ValueError, match="metrics='ssim,vmaf'.*lpips"):
        metrics.resolve("ssim,vmaf")
    lower = metrics.REGISTRY["lpips"]
    values = np.array([[[0.3, 0.3], [0.1, 0.2], [0.5, 0.0]]])  # 1 sequence, 3 samples
    assert lower.best_sample(values).tolist() == [1]  # lowest mean, not lowest frame
    assert metrics.REGISTRY["psnr"].best_sample(values).tolist() == [0]


def test_fvd_sees_the_frames_the_protocol_says():
    rng = np.random.default_rng(0)
    videos = rng.uniform(size=(2, 5, 4, 4, 1))
    samples = rng.uniform(size=(2, 3, 3, 4, 4, 1))  # n_past 2, 3 predicted
    srvp = collect(videos, samples, 2, "context+predicted", np.random.default_rng(1))
    assert srvp["fvd_real"].shape == srvp["fvd_generated"].shape == (2, 5, 4, 4, 1)
    np.testing.assert_array_equal(srvp["fvd_generated"][:, :2], srvp["fvd_real"][:, :2])
    fitvid = collect(videos, samples, 2, "predicted", np.random.default_rng(1))
    assert fitvid["fvd_real"].shape == fitvid["fvd_generated"].shape == (2, 3, 4, 4, 1)
    np.testing.assert_array_equal(fitvid["fvd_generated"], srvp["fvd_generated"][:, 2:])


def test_the_summary_line_names_the_protocol_or_says_there_is_none():
    from svg_tf.evaluate import summary_line

    result = {"protocol": {"name": "custom", "num_samples": 100, "num_sequences": 256,
                           "ssim": "gaussian",
                           "metrics": {"ssim": {"kind": "frame", "unit": ""}}},
              "overall": {"best_ssim": 0.81234}, "frames": [6, 30]}
    line = summary_line(result)
    assert line.startswith("[no --protocol: the run's own horizon] best-of-100 over 256")
    assert "frames 6-30: ssim 0.8123 (gaussian)" in line
    result["protocol"]["name"] = "srvp"
    assert summary_line(result).startswith("[protocol srvp] best-of-100")
