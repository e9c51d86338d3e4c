"""Planning with a video model: CEM and MPPI over action sequences (optimizers.py), costs on
predicted frames (costs.py), the models a planner asks (world_models.py: a trained run, the
simulator itself, random actions) and control episodes in pushed_mnist (control.py).
`python -m svg_tf.plan` is the program."""

from svg_tf.planning.control import EpisodeResult, run_episodes, summarize
from svg_tf.planning.costs import COSTS, make_cost, pixel_mse
from svg_tf.planning.optimizers import CEM, MPPI, PLANNERS
from svg_tf.planning.world_models import LearnedModel, SimulatorModel

__all__ = ["CEM", "COSTS", "EpisodeResult", "LearnedModel", "MPPI", "PLANNERS",
           "SimulatorModel", "make_cost", "pixel_mse", "run_episodes", "summarize"]
