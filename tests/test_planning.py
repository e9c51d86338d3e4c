"""Planning with the model: batched rollouts against the step-by-step sampler, the VP2
adapter's contract (in a fresh process), CEM and MPPI on closed-form costs, control episodes
in pushed_mnist with the simulator as model, and the plan program's refusals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import svg_tf
from svg_tf import planning
from svg_tf.models import build_model
from svg_tf.planning import control

pytestmark = [pytest.mark.seconds(60),
              pytest.mark.filterwarnings("ignore::svg_tf.datasets.mnist_digits.SubsetWarning")]
TINY = dict(width=8, g_dim=16, z_dim=4, rnn_size=32, n_past=3, n_future=3, n_eval=8,
            batch_size=4)


def tiny_config(conditioning="actions", model="lp"):
    return svg_tf.get_config("pushed_mnist", model, conditioning=conditioning, **TINY)


@pytest.fixture(scope="module")
def model():
    return build_model(tiny_config(), compile=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Conditioned and unconditioned pushed_mnist runs and an SM-MNIST run (untrained
    weights: the contracts do not depend on training)."""
    from svg_tf.run_dir import save_model, write_config

    made = {}
    for conditioning in ("actions", "none", "smmnist"):
        logdir = str(tmp_path_factory.mktemp(conditioning) / "run")
        config = (tiny_config(conditioning) if conditioning != "smmnist" else
                  svg_tf.get_config("smmnist", "lp", **TINY))
        write_config(logdir, config)
        save_model(logdir, build_model(config, compile=False), step=1)
        made[conditioning] = logdir
    return made


def _inputs(batch=2, num=5, horizon=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(batch, 3, 64, 64, 1)).astype(np.float32),
            rng.uniform(-1, 1, (batch, num, horizon, 2)).astype(np.float32),
            rng.uniform(-1, 1, (batch, 2, 2)).astype(np.float32))


def test_a_rollout_is_the_step_by_step_sampler_under_the_same_noise(model):
    context, candidates, context_actions = _inputs()
    rng = np.random.default_rng(1)
    k = 2
    post = rng.standard_normal((2, 2, 5 * k, 4)).astype(np.float32)
    prior = rng.standard_normal((4, 2, 5 * k, 4)).astype(np.float32)
    frames = model.rollout(context, candidates, context_actions, samples_per_candidate=k,
                           noise=(post, prior), max_batch=6)
    assert frames.shape == (2, 5, k, 4, 64, 64, 1)
    for b, n, s in ((0, 0, 0), (0, 3, 1), (1, 4, 0), (1, 2, 1)):
        row = n * k + s  # sample s of candidate n
        one = model.sample(context[b:b + 1], 4, 1, bn="running",
                           noise=(post[:, b:b + 1, row:row + 1], prior[:, b:b + 1, row:row + 1]),
                           actions=np.concatenate([context_actions[b:b + 1],
                                                   candidates[b:b + 1, n]], 1))
        np.testing.assert_allclose(frames[b, n, s], one[0, 0], atol=1e-5)


def test_rollouts_do_not_depend_on_the_chunking_and_trace_once_per_shape():
    model = build_model(tiny_config(), compile=False)
    context, candidates, context_actions = _inputs(batch=1, num=7, seed=2)
    # 7 candidates in chunks of 3: 3, 3 and a last one padded to 3, one traced shape
    chunked = model.rollout(context, candidates, context_actions, seed=[3, 4], max_batch=3)
    function = model._traced.get(("rollout", "running"), None)
    assert function.experimental_get_tracing_count() == 1
    model.rollout(context, candidates[:, :5], context_actions, seed=[3, 4], max_batch=3)
    assert function.experimental_get_tracing_count() == 1  # 3 + 2 padded: no new shape
    whole = model.rollout(context, candidates, context_actions, seed=[3, 4])
    np.testing.assert_allclose(whole, chunked, atol=1e-5)
    assert whole.shape == (1, 7, 4, 64, 64, 1)
    # the candidates matter: two different action sequences, two different futures
    assert float(tf.reduce_max(tf.abs(whole[0, 0] - whole[0, 1]))) > 0


def test_rollout_refusals_are_one_line(model, runs):
    context, candidates, context_actions = _inputs()
    for call, message in (
            (lambda: model.rollout(context, candidates[..., :1], context_actions),
             r"candidates \(each\) must have shape \[batch, 1 \(or more\), 2\]"),
            (lambda: model.rollout(context, candidates[:1], context_actions),
             r"candidates must be floats `\[2, N, horizon, 2\]`"),
            (lambda: model.rollout(context, candidates, None),
             r"pass context_actions `\[batch, 2, 2\]`"),
            (lambda: model.rollout(context[..., :32, :], candidates, context_actions),
             r"context must be `\[batch, n_past, 64, 64, 1\]`")):
        with pytest.raises(ValueError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    unconditioned = build_model(tiny_config("none"), compile=False)
    with pytest.raises(ValueError, match="not conditioned on actions"):
        unconditioned.rollout(context, candidates, context_actions)
    with pytest.raises(ValueError, match="not conditioned on actions.*--conditioning=actions"):
        planning.LearnedModel(runs["none"])
    from svg_tf.plan import plan

    with pytest.raises(ValueError, match="plan runs control episodes in pushed_mnist; this "
                                         "run was trained on smmnist"):
        plan("learned", runs["smmnist"])


VP2_SCRIPT = """
import json, sys
import numpy as np
from svg_tf.integrations.vp2 import VP2Model
model = VP2Model(sys.argv[1], max_batch_size=4)
rng = np.random.default_rng(0)
n, horizon = 6, 5
video = np.repeat(rng.uniform(size=(1, model.num_context, 64, 64, 1)), n, 0)
actions = np.concatenate([np.repeat(rng.uniform(-1, 1, (1, model.num_context - 1, 2)), n, 0),
                          rng.uniform(-1, 1, (n, horizon, 2))], 1)
out = model({"video": video, "actions": actions})
rgb = out["rgb"]
print(json.dumps({"type": type(rgb).__name__, "shape": list(rgb.shape),
                  "min": float(rgb.min()), "max": float(rgb.max()),
                  "modality": model.base_prediction_modality,
                  "context_kept": bool(np.array_equal(rgb[:, :model.num_context - 1],
                                                      video[:, 1:])),
                  "distinct": bool(np.abs(rgb[0, -1] - rgb[1, -1]).max() > 0)}))
"""


def test_the_vp2_adapter_keeps_vp2s_contract_in_a_fresh_process(runs):
    out = subprocess.run([sys.executable, "-c", VP2_SCRIPT, runs["actions"]],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # (N, n_ctx - 1 + horizon, H, W, C): context frames 1 .. n_ctx - 1, then 5 predicted
    assert got == {"type": "ndarray", "shape": [6, 2 + 5, 64, 64, 1], "min": got["min"],
                   "max": got["max"], "modality": "rgb", "context_kept": True,
                   "distinct": True}
    assert 0 <= got["min"] <= got["max"] <= 1


def test_the_vp2_adapter_takes_torch_tensors_when_torch_is_there(runs):
    torch = pytest.importorskip("torch")
    from svg_tf.integrations.vp2 import VP2Model

    model = VP2Model(runs["actions"])
    video = torch.rand(3, 3, 64, 64, 1)
    out = model({"video": video, "actions": torch.rand(3, 2 + 4, 2) * 2 - 1})["rgb"]
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, 6, 64, 64, 1)
    assert torch.equal(out[:, :2], video[:, 1:])


def test_the_vp2_adapter_refuses_what_does_not_fit(runs):
    from svg_tf.integrations.vp2 import VP2Model

    model = VP2Model(runs["actions"])
    video = np.zeros((2, 3, 64, 64, 1), np.float32)
    for batch, message in (
            ({"video": video[:, :2], "actions": np.zeros((2, 4, 2))},
             r"batch\['video'\] must have shape \(N, 3, 64, 64, 1\)"),
            ({"video": video, "actions": np.zeros((2, 2, 2))}, r"2 \+ horizon, 2\)"),
            ({"video": video, "actions": np.full((2, 4, 2), np.nan)}, "must be finite"),
            ({"video": video}, "the batch has no 'actions'")):
        with pytest.raises(ValueError, match=message):
            model(batch)
    with pytest.raises(ValueError, match="not conditioned on actions"):
        VP2Model(runs["none"])


# CEM narrows its Gaussian onto the elites; MPPI keeps its noise, so its mean stays a
# weighted average of noisy candidates.
@pytest.mark.parametrize("planner, error", [(planning.CEM, 0.05), (planning.MPPI, 0.25)])
def test_the_planners_find_the_minimum_of_a_quadratic(planner, error):
    target = np.array([[0.5, -0.3], [0.2, 0.9], [-0.7, 0.0]])
    optimizer = planner(horizon=3, samples=200, iterations=8, init_std=0.7)
    plan, best = optimizer.plan(lambda a: ((a - target) ** 2).sum((1, 2)),
                                np.random.default_rng(0))
    assert plan.shape == (3, 2) and np.abs(plan - target).max() < error
    # the plan's cost: a tenth of the zero plan's at most; the best candidate's is reported
    assert ((plan - target) ** 2).sum() < 0.1 * (target ** 2).sum() and best < 0.2
    # bounds hold: an optimum outside [-1, 1] is approached from inside
    optimizer = planner(horizon=1, samples=100, iterations=5)
    plan, _ = optimizer.plan(lambda a: ((a - 3) ** 2).sum((1, 2)), np.random.default_rng(1))
    assert plan.max() <= 1 and plan.min() > 0.5


def test_planning_with_the_simulator_reaches_easy_goals_and_random_actions_do_not():
    settings = dict(episodes=4, seed=0, steps=10, context_steps=2)
    solved = planning.run_episodes("simulator", planner=planning.MPPI(horizon=6, samples=60),
                                   cost=planning.pixel_mse, **settings)
    random = planning.run_episodes("random", **settings)
    assert [r.start_distance for r in solved] == [r.start_distance for r in random]
    assert all(r.success for r in solved), [r.final_distance for r in solved]
    assert np.mean([r.final_distance for r in solved]) < 2.0
    assert np.mean([r.final_distance for r in random]) > 5.0
    summary = planning.summarize(solved, 3.0)
    assert summary["success_rate"] == 1.0 and summary["episodes"] == 4
    assert solved[0].frames.shape == (2 + 1 + 10, 64, 64, 1)


def test_a_goal_of_the_wrong_size_is_one_line():
    with pytest.raises(ValueError, match=r"the goal image has shape \(32, 32, 1\), the "
                                         r"model's frames \(64, 64, 1\)"):
        control.check_goal(np.zeros((32, 32, 1)), (64, 64, 1))


def test_plan_with_a_learned_run_writes_its_figures_and_picture(runs, tmp_path):
    from svg_tf.plan import plan

    picture = str(tmp_path / "episode.png")
    summary, results = plan("learned", runs["actions"], planner="cem", episodes=1, steps=2,
                            horizon=3, samples=6, iterations=1, context_steps=1,
                            picture=picture)
    assert set(summary) >= {"success_rate", "mean_final_distance", "seconds_per_step"}
    assert summary["seconds_per_step"] > 0 and results[0].first_plan.shape == (3, 64, 64, 1)
    from PIL import Image

    assert Image.open(picture).size[1] == 2 * (64 + 4)  # two rows: executed, then the plan


def _plan_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "svg_tf.plan", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_plan_refuses_bad_flags_in_one_line_before_tensorflow():
    for args, message in ((["--model=simulator", "--horizon=0"], "--horizon=0 is invalid"),
                          (["--model=simulator", "--execute=9"], "--execute=9 is more than"),
                          ([], "--logdir is required with --model=learned"),
                          (["--model=random", "--logdir=x"], "--logdir is for --model=learned"),
                          (["--model=simulator", "--cost=lpips"], "needs --lpips_weights"),
                          (["--model=simulator", "--planner=grid"], "planner")):
        out = subprocess.run([sys.executable, "-X", "importtime", "-m", "svg_tf.plan", *args],
                             capture_output=True, text=True, timeout=300)
        lines = out.stderr.strip().splitlines()
        messages = [line for line in lines if not line.startswith("import time:")]
        assert out.returncode == 2 and message in messages[0], (args, out.stderr[-2000:])
        assert messages[1:] == ["(--help lists every flag)"]
        imported = {line.split("|")[-1].strip() for line in lines if line not in messages}
        assert "tensorflow" not in imported, args


def test_plan_random_writes_the_json_the_docs_describe(tmp_path):
    out = _plan_cli("--model=random", "--episodes=2", "--steps=3", "--json=r.json",
                    cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads((tmp_path / "r.json").read_text())
    assert figures["episodes"] == 2 and figures["seconds_per_step"] == 0.0
    assert 0 <= figures["success_rate"] <= 1 and figures["mean_final_distance"] > 0


def test_the_lpips_cost_is_zero_for_the_goal_itself(tmp_path):
    """--cost=lpips: LPIPS to the goal averaged over the horizon, with weights made here."""
    fixtures = os.path.join(os.path.dirname(__file__), "fixtures")
    sys.path.insert(0, fixtures)
    from lpips_weights import write_weights_file

    path, _ = write_weights_file(tmp_path / "lpips_alex.npz")
    goal = np.random.default_rng(0).uniform(size=(64, 64, 1)).astype(np.float32)
    frames = np.stack([np.broadcast_to(goal, (2, 64, 64, 1)), np.zeros((2, 64, 64, 1))])
    costs = planning.make_cost("lpips", path)(frames, goal)
    assert costs.shape == (2,) and costs[0] == pytest.approx(0, abs=1e-6) and costs[1] > 0.01
    with pytest.raises(ValueError, match="cost=lpips needs lpips_weights"):
        planning.make_cost("lpips")
