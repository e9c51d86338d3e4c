"""The paper's presets as data: their settings, what they build and what they should score.

Each preset carries its settings (paper section 4 and the authors' code), the trainable
parameters each variant has at those settings (equal to the authors' PyTorch models), the
command that trains it, and the published SVG-LP numbers later work measured on that dataset
(with the protocol of `svg_tf.protocols` that reproduces the measurement). `config.PRESETS`
is built from here; `train --summary_only`, the docs check and the parameter tests read it.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Published:
    """An SVG-LP result of later work: `python -m svg_tf.evaluate --protocol=PROTOCOL` on the
    same test set should give these numbers (None: not reported)."""

    protocol: str
    horizon: str
    psnr: float | None
    ssim: float | None
    lpips: float | None
    fvd: float | None
    source: str


@dataclasses.dataclass(frozen=True)
class Preset:
    """name: the --dataset value. settings: SVGConfig fields. parameters: trainable
    parameters per model (lp, fp, det) at these settings. released: the authors' released
    SVG-LP checkpoint of this preset, if any. published: SVG-LP numbers of later work."""

    name: str
    description: str
    settings: dict[str, Any]
    parameters: dict[str, int]
    command: str
    released: str | None = None
    published: tuple[Published, ...] = ()


PRESET_LIST = (
    Preset(
        "smmnist", "Stochastic Moving MNIST, 2 digits, 64x64 (paper section 4.1)",
        dict(dataset="smmnist", backbone="dcgan", channels=1, z_dim=10, n_past=5, n_future=10,
             n_eval=30, beta=1e-4, lr=0.002, num_digits=2),
        parameters={"lp": 12_614_057, "fp": 12_049_557, "det": 11_482_497},
        command="python -m svg_tf.train --dataset=smmnist --model=lp",
        released="the authors' SVG-LP (dcgan64, 2 digits)",
        published=(Published("srvp", "5->20", 14.50, 0.7090, None, None,
                             "SRVP, with the authors' weights"),)),
    # KTH follows the authors' released command (z 24, beta 1e-6, lr 8e-4); the paper's text
    # gives |z| = 32.
    Preset(
        "kth", "KTH Actions, grayscale 64x64 (paper section 4.2)",
        dict(dataset="kth", backbone="vgg", channels=1, z_dim=24, n_past=10, n_future=10,
             n_eval=40, beta=1e-6, lr=0.0008),
        parameters={"lp": 22_778_081, "fp": 22_206_385, "det": 21_628_545},
        command="python -m svg_tf.train --dataset=kth --model=lp --data_dir=kth_64",
        published=(Published("srvp", "10->30", 28.06, 0.8438, 0.0923, 377, "SRVP"),)),
    Preset(
        "bair", "BAIR robot pushing, RGB 64x64 (paper section 4.3)",
        dict(dataset="bair", backbone="vgg", channels=3, z_dim=64, n_past=2, n_future=10,
             n_eval=30, beta=1e-4, lr=0.002),
        parameters={"lp": 22_831_747, "fp": 22_239_491, "det": 21_630_851},
        command="python -m svg_tf.train --dataset=bair --model=lp "
                "--data_dir=bair/softmotion30_44k",
        released="svglp_bair.pth, the authors' SVG-LP (vgg64)",
        published=(Published("srvp", "2->28", 18.95, 0.8058, 0.0609, 255,
                             "SRVP, the authors' released weights, PyTorch 0.4"),)),
)
PRESETS: dict[str, Preset] = {p.name: p for p in PRESET_LIST}

# SVG' (--architecture=svg_prime) over any dataset preset: the model sizes of the SVG' code
# the VP2 benchmark ships (g_dim 128, rnn_size 512 x M 0.1 = 51 recurrent channels, K 0.5 =
# width 32, z_dim 10, 2 predictor and 1 prior/posterior conv-LSTM layers, beta 1e-4, lr
# 3e-4) and its batch of 50, which also keeps a 15-frame SM-MNIST step within 24 GB (the
# datasets' 100 needs about 29). The horizon (n_past, n_future) stays the dataset's (VP2
# trains its robot data with 2 context frames, 12 predicted).
ARCHITECTURE_SETTINGS: dict[str, dict[str, Any]] = {
    "svg_prime": dict(architecture="svg_prime", backbone="vgg_map", g_dim=128, rnn_size=51,
                      width=32, z_dim=10, predictor_rnn_layers=2, posterior_rnn_layers=1,
                      prior_rnn_layers=1, beta=1e-4, lr=3e-4, batch_size=50),
}
