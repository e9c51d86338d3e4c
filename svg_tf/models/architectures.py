"""The recurrent architectures: SVG's vector LSTMs (the paper) and SVG''s conv-LSTMs on the
encoder's feature map (Villegas et al. 2019). Each names its frame predictor and Gaussian
classes and whether it needs a backbone whose h is a map; adding one is one entry here.
The encoder and decoder come from the backbone registry (SVG' uses vgg_map)."""

from __future__ import annotations

import dataclasses

from svg_tf.models.conv_recurrent import ConvLSTMStack, GaussianConvLSTM
from svg_tf.models.recurrent import GaussianLSTM, LSTMStack


@dataclasses.dataclass(frozen=True)
class Architecture:
    predictor: type
    gaussian: type
    on_map: bool  # the recurrences run on the backbone's feature map; z is a map


REGISTRY = {
    "svg": Architecture(LSTMStack, GaussianLSTM, on_map=False),
    "svg_prime": Architecture(ConvLSTMStack, GaussianConvLSTM, on_map=True),
}


def make_recurrent(config, feature_map):
    """(frame predictor, posterior or None, learned prior or None) of a config;
    `feature_map` is the backbone's map size (None for a vector h)."""
    c = config
    arch = REGISTRY[c.architecture]
    extra = {"map_size": feature_map} if arch.on_map else {}
    predictor = arch.predictor(c.g_dim, c.rnn_size, c.predictor_rnn_layers,
                               name="frame_predictor", **extra)
    posterior = (arch.gaussian(c.z_dim, c.rnn_size, c.posterior_rnn_layers, name="posterior",
                               **extra) if c.model != "det" else None)
    prior = (arch.gaussian(c.z_dim, c.rnn_size, c.prior_rnn_layers, name="prior", **extra)
             if c.model == "lp" else None)
    return predictor, posterior, prior
