"""Parity with the authors' PyTorch code: Adam arithmetic, LSTM cells, batch-norm running
statistics in their call order, and their test-time batch norm. Each reference here is
written from the published algorithm (NumPy) or as the authors' per-frame loop, not from
svg_tf's batched code."""

import numpy as np
import pytest
import tensorflow as tf

from svg_tf import build_model
from svg_tf.models.layers import FrameBatchNorm, batch_norm_updates
from svg_tf.models.recurrent import TorchLSTMCell
from svg_tf.optimizers import TorchAdam
from conftest import tiny_config


def torch_adam_numpy(param, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam's update as PyTorch computes it: float32 tensors, bias corrections
    in Python doubles (torch/optim/adam.py, single-tensor path)."""
    f32 = np.float32
    p = param.astype(f32)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.astype(f32)
        m = m + f32(1 - b1) * (g - m)  # exp_avg.lerp_(grad, 1 - beta1)
        v = v * f32(b2) + f32(1 - b2) * (g * g)  # exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
        step_size = lr / (1 - b1 ** t)
        denom = np.sqrt(v) / f32(np.sqrt(1 - b2 ** t)) + f32(eps)
        p = p - f32(step_size) * (m / denom)
    return p


def test_torch_adam_equals_pytorch_algorithm_over_gradient_scales():
    rng = np.random.default_rng(0)
    shape = (400,)
    init = rng.normal(size=shape).astype(np.float32)
    # Gradients spanning 1e-9 .. 1 in magnitude, both signs: the small ones are where Keras'
    # Adam (effective eps 1e-7 / sqrt(1 - 0.999^t)) departs from PyTorch's.
    scales = 10.0 ** rng.uniform(-9, 0, size=shape)
    grads = [(rng.choice([-1, 1], size=shape) * scales * rng.uniform(0.5, 2, size=shape))
             .astype(np.float32) for _ in range(5)]
    variable = tf.Variable(init)
    optimizer = TorchAdam(learning_rate=2e-3, beta_1=0.9)
    for g in grads:
        optimizer.apply([tf.constant(g)], [variable])
    expected = torch_adam_numpy(init, grads, 2e-3)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, atol=1e-9)
    # Keras' own Adam is measurably different on the same gradients (the reason it exists).
    keras_variable = tf.Variable(init)
    import keras

    keras_adam = keras.optimizers.Adam(2e-3, beta_1=0.9, epsilon=1e-8)
    for g in grads:
        keras_adam.apply([tf.constant(g)], [keras_variable])
    assert np.max(np.abs(keras_variable.numpy() - expected)) > 1e-4


def test_train_step_applies_pytorch_adam_to_every_weight():
    model = build_model(tiny_config("lp"))
    before = [w.numpy() for w in model.trainable_variables]
    captured = []
    apply = model.optimizer.apply

    def spy(grads, variables):
        captured.append([np.asarray(g) for g in grads])
        return apply(grads, variables)

    model.optimizer.apply = spy
    videos = tf.random.stateless_uniform([4, model.svg_config.seq_len, 64, 64, 1], [3, 4])
    for _ in range(3):
        model.train_step(videos)
    lr = model.svg_config.lr
    for i, (w0, w) in enumerate(zip(before, model.trainable_variables)):
        expected = torch_adam_numpy(w0, [step[i] for step in captured], lr)
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=w.path)


def test_torch_lstm_cell_has_two_biases_and_pytorch_equations():
    cell = TorchLSTMCell(8, name="cell")
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    h0 = np.random.default_rng(2).normal(size=(3, 8)).astype(np.float32)
    c0 = np.random.default_rng(3).normal(size=(3, 8)).astype(np.float32)
    h, (_, c) = cell(x, [h0, c0])
    names = sorted(w.name for w in cell.trainable_weights)
    assert names == ["bias_hh", "bias_ih", "kernel", "recurrent_kernel"]
    limit = 1 / np.sqrt(8)
    for w in cell.trainable_weights:
        assert np.all(np.abs(w.numpy()) <= limit)
    # PyTorch: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, chunks i, f, g, o.
    w_ih, w_hh = cell.kernel.numpy().T, cell.recurrent_kernel.numpy().T
    gates = x @ w_ih.T + cell.bias_ih.numpy() + h0 @ w_hh.T + cell.bias_hh.numpy()
    i, f, g, o = np.split(gates, 4, axis=1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c_ref = sig(f) * c0 + sig(i) * np.tanh(g)
    np.testing.assert_allclose(c.numpy(), c_ref, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), sig(o) * np.tanh(c_ref), atol=1e-6)
    clone = TorchLSTMCell.from_config(cell.get_config())
    assert clone.units == 8 and clone.name == "cell"


def _sequential_ema(start, stats, order, momentum=0.1):
    r = start.astype(np.float64)
    for k in order:
        r = (1 - momentum) * r + momentum * stats[k]
    return r


def _group_stats(x):
    """Per-group mean and unbiased variance of `[G, B, H, W, C]` (PyTorch's BatchNorm2d)."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    return flat.mean(1), flat.var(1, ddof=1)


def test_frame_batch_norm_update_order_is_a_sequential_ema():
    layer = FrameBatchNorm()
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(4, 6, 5, 5, 3)).astype(np.float32)
    layer.build(x.shape)
    layer.moving_mean.assign([0.3, -0.2, 1.0])
    layer.moving_variance.assign([1.5, 0.7, 2.0])
    start = (layer.moving_mean.numpy(), layer.moving_variance.numpy())
    order = [0, 1, 1, 2, 2, 3]
    with batch_norm_updates(order):
        layer(x, training=True)
    means, variances = _group_stats(x)
    np.testing.assert_allclose(layer.moving_mean.numpy(),
                               _sequential_ema(start[0], means, order), atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(),
                               _sequential_ema(start[1], variances, order), rtol=1e-5)
    # Default: one update per group in order; an empty order normalises without updating.
    layer(x, training=True)
    expected = _sequential_ema(_sequential_ema(start[0], means, order), means, range(4))
    np.testing.assert_allclose(layer.moving_mean.numpy(), expected, atol=1e-5)
    frozen = layer.moving_mean.numpy()
    with batch_norm_updates(()):
        layer(x, training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), frozen)


def _batch_norm_layers(module):
    return [layer for layer in module._flatten_layers() if isinstance(layer, FrameBatchNorm)]


def test_train_step_running_statistics_follow_the_authors_call_order():
    """Encoder: frames 0,1,1,2,...,T-2,T-1 (enc(x_{t-1}), enc(x_t) per step); decoder: one
    call per predicted frame. The inputs each BN layer saw are recorded and the PyTorch
    updates replayed call by call in NumPy."""
    model = build_model(tiny_config("lp"))
    seq_len = model.svg_config.seq_len
    seen = {}
    for module in (model.encoder, model.decoder):
        for layer in _batch_norm_layers(module):
            call = layer.call

            def spy(x, training=False, _call=call, _layer=layer):
                if training:
                    seen[id(_layer)] = np.asarray(x)
                return _call(x, training=training)

            layer.call = spy
    start = {id(layer): (layer.moving_mean.numpy(), layer.moving_variance.numpy())
             for m in (model.encoder, model.decoder) for layer in _batch_norm_layers(m)}
    videos = tf.random.stateless_uniform([4, seq_len, 64, 64, 1], [5, 6])
    model.train_step(videos)
    encoder_order = [f for t in range(1, seq_len) for f in (t - 1, t)]
    checked = 0
    for module, order in ((model.encoder, encoder_order),
                          (model.decoder, list(range(seq_len - 1)))):
        for layer in _batch_norm_layers(module):
            means, variances = _group_stats(seen[id(layer)])
            mean0, var0 = start[id(layer)]
            np.testing.assert_allclose(layer.moving_mean.numpy(),
                                       _sequential_ema(mean0, means, order), atol=1e-5)
            np.testing.assert_allclose(layer.moving_variance.numpy(),
                                       _sequential_ema(var0, variances, order), atol=1e-5,
                                       rtol=1e-5)
            checked += 1
    assert checked == len(_batch_norm_layers(model.encoder)) + len(
        _batch_norm_layers(model.decoder))


def _per_frame_calls(model, training):
    """The authors' per-frame encoder and decoder calls on one batch of frames, batch-norm
    statistics not updated: (enc(frame) -> (h, skips), dec(g, skips) -> frame)."""
    def enc(frame):
        with batch_norm_updates(()):
            h, skips = model.encoder(frame[None], training=training)
        return h[0], [s[0] for s in skips]

    def dec(g, skips):
        with batch_norm_updates(()):
            return model.decoder(g[None], [s[None] for s in skips], training=training)[0]

    return enc, dec


def _authors_generation(model, context, n_future, post_noise, prior_noise):
    """The authors' generate_svg_lp.py loop: one pass per sample, the encoder and decoder
    called once per frame in training mode on the batch (statistics not updated); the noise
    of pass s is post_noise[:, s] and prior_noise[:, s] (`[steps, S, B, z]`)."""
    batch, n_past = context.shape[0], context.shape[1]
    num_samples = post_noise.shape[1]

    enc, dec = _per_frame_calls(model, training=True)

    outputs = []
    x = tf.constant(np.transpose(context, [1, 0, 2, 3, 4]))
    for s in range(num_samples):
        pred_state = model.frame_predictor.initial_state(batch)
        prior_state = model.prior.initial_state(batch)
        post_state = model.posterior.initial_state(batch)
        x_in, frames = x[0], []
        for i in range(1, n_past + n_future):
            h, skips_i = enc(x_in)
            if i < n_past:
                skip = skips_i  # refreshed while i < n_past: frame n_past-2 ("original")
                q, post_state = model.posterior.distribution_step(enc(x[i])[0], post_state)
                z = q.loc + q.scale * post_noise[i - 1, s]
                _, prior_state = model.prior.distribution_step(h, prior_state)
                _, pred_state = model.frame_predictor.step(tf.concat([h, z], -1), pred_state)
                x_in = x[i]
            else:
                p, prior_state = model.prior.distribution_step(h, prior_state)
                z = p.loc + p.scale * prior_noise[i - n_past, s]
                g, pred_state = model.frame_predictor.step(tf.concat([h, z], -1), pred_state)
                x_in = dec(g, skip)
                frames.append(x_in.numpy())
        outputs.append(np.stack(frames, 1))  # [B, n_future, H, W, C]
    return np.stack(outputs, 1)  # [B, S, n_future, H, W, C]


def test_sample_with_batch_statistics_equals_the_authors_generation_loop():
    # Untrained is enough: with batch statistics the frames depend on the inputs.
    model = build_model(tiny_config("lp", skip="original"), compile=False)
    c = model.svg_config
    context = tf.random.stateless_uniform([3, c.n_past, 64, 64, 1], [7, 8]).numpy()
    stats = [v.numpy() for v in model.non_trainable_variables]
    rng = np.random.default_rng(5)
    post = rng.normal(size=(c.n_past - 1, 2, 3, c.z_dim)).astype(np.float32)
    prior = rng.normal(size=(4, 2, 3, c.z_dim)).astype(np.float32)
    frames = model.sample(context, 4, num_samples=2, bn="batch", noise=(post, prior)).numpy()
    expected = _authors_generation(model, context, 4, post, prior)
    np.testing.assert_allclose(frames, expected, atol=1e-5)
    for before, after in zip(stats, model.non_trainable_variables):
        np.testing.assert_array_equal(before, after.numpy())
    # Batch statistics make a sample depend on its batch; running statistics do not.
    running = model.sample(context, 4, num_samples=2, seed=[11, 12], bn="running").numpy()
    assert np.max(np.abs(running - frames)) > 1e-3
    with pytest.raises(ValueError, match="at least 2"):
        model.sample(context[:1], 4, bn="batch")


def _authors_reconstruction(model, video, every_skip, training):
    """The authors' make_gifs posterior pass, frame by frame: the true frames up to n_past,
    then each frame decoded from the predictor fed with the encoding of the previous output
    and z = the posterior mean on the true frame; the skips are refreshed while i < n_past
    (at every step with --last_frame_skip). The posterior steps over the true frames."""
    n_past = model.svg_config.n_past
    x = tf.constant(np.transpose(video, [1, 0, 2, 3, 4]))

    enc, dec = _per_frame_calls(model, training)

    pred_state = model.frame_predictor.initial_state(video.shape[0])
    post_state = (model.posterior.initial_state(video.shape[0])
                  if model.posterior is not None else None)
    x_in, outputs = x[0], [x[0]]
    for i in range(1, x.shape[0]):
        h, skips_i = enc(x_in)
        if every_skip or i < n_past:
            skip = skips_i
        step_input = h
        if model.posterior is not None:
            q, post_state = model.posterior.distribution_step(enc(x[i])[0], post_state)
            step_input = tf.concat([h, q.loc], -1)
        g, pred_state = model.frame_predictor.step(step_input, pred_state)
        x_in = x[i] if i < n_past else dec(g, skip)
        outputs.append(x_in)
    return np.transpose(np.stack([o.numpy() for o in outputs]), [1, 0, 2, 3, 4])


@pytest.mark.parametrize("variant, skip, bn", [("lp", "original", "batch"),
                                               ("det", "every", "running")])
def test_reconstruct_equals_the_authors_posterior_pass(variant, skip, bn):
    model = build_model(tiny_config(variant, skip=skip), compile=False)
    c = model.svg_config
    video = tf.random.stateless_uniform([3, c.n_past + 3, 64, 64, 1], [3, 4]).numpy()
    stats = [v.numpy() for v in model.non_trainable_variables]
    got = model.reconstruct(video, bn=bn).numpy()
    expected = _authors_reconstruction(model, video, skip == "every", bn == "batch")
    np.testing.assert_array_equal(got[:, :c.n_past], video[:, :c.n_past])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for before, after in zip(stats, model.non_trainable_variables):
        np.testing.assert_array_equal(before, after.numpy())
