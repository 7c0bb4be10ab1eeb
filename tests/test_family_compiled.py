"""The relaxation family and the estimators inside jax.jit / jax.grad /
jax.vmap, tf.function (also jit_compile=True) and torch.compile: the same
values and gradients as eagerly."""

import numpy as np
import pytest
from gumbelxp.conformance.support import Target, from_numpy, selected_backends, to_numpy

import gumbelxp as gx

SHAPE = (3, 5)
LOGITS = np.array([[0.2, -1.0, 1.5, 0.0, 0.7],
                   [-np.inf, 0.3, -0.4, 2.0, 0.1],
                   [1.0, 1.0, -2.0, 0.5, 0.1]])
NOISE = np.random.default_rng(0).gumbel(size=SHAPE)
COT = np.random.default_rng(1).normal(size=SHAPE)


def need(name):
    if name not in selected_backends():
        pytest.skip(f"{name} is not among the selected backends")
    return Target(name)


def functions(be):
    """name -> f(logits, noise) with fixed noise (or a fixed PortableRNG seed)."""
    idx = from_numpy(be, np.array([2, 3, 0]))
    ly = from_numpy(be, np.log(np.full(SHAPE, 0.2)), "float32")
    y = from_numpy(be, np.linspace(0.05, 0.95, 15).reshape(SHAPE), "float32")
    return {
        "gumbel_log_softmax": lambda x, g: gx.gumbel_log_softmax(x, 0.5, noise=g),
        "exp_relaxed_log_prob": lambda x, g: gx.exp_relaxed_log_prob(ly, x, 0.5),
        "gumbel_sigmoid": lambda x, g: gx.gumbel_sigmoid(x, 0.5, hard=True, noise=g),
        "relaxed_bernoulli_log_prob": lambda x, g: gx.relaxed_bernoulli_log_prob(y, x, 0.5),
        "relaxed_topk": lambda x, g: gx.relaxed_topk(x, 2, 0.5, hard=True, noise=g),
        "plackett_luce_log_prob": lambda x, g: gx.plackett_luce_log_prob(
            from_numpy(be, np.array([[2, 0], [3, 1], [0, 1]])), x),
        "conditional_gumbel": lambda x, g: gx.conditional_gumbel(x, idx,
                                                                 rng=gx.PortableRNG(3)),
        "reinmax": lambda x, g: gx.reinmax(x, 2.0, noise=g),
        "gumbel_rao": lambda x, g: gx.gumbel_rao(x, 0.5, samples=4, rng=gx.PortableRNG(4)),
    }


NAMES = ["gumbel_log_softmax", "exp_relaxed_log_prob", "gumbel_sigmoid",
         "relaxed_bernoulli_log_prob", "relaxed_topk", "plackett_luce_log_prob",
         "conditional_gumbel", "reinmax", "gumbel_rao"]


def _cot(be, out):
    c = COT if len(out.shape) == 2 else COT[:, 0]
    return from_numpy(be, c, "float32")


def _close(a, b):
    a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
    assert (np.isneginf(a) == np.isneginf(b)).all()
    f = np.isfinite(b)
    np.testing.assert_allclose(a[f], b[f], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_jax_jit_grad(name):
    be = need("jax")
    import jax
    import jax.numpy as jnp

    x = from_numpy(be, LOGITS, "float32")
    g = from_numpy(be, NOISE, "float32")
    f = functions(be)[name]
    eager = f(x, g)
    _close(jax.jit(f)(x, g), eager)
    c = _cot(be, eager)

    def loss(a):
        return jnp.sum(f(a, g) * c)

    _, pull = jax.vjp(lambda a: f(a, g), x)
    eager_grad = pull(c)[0]
    jit_grad = jax.jit(jax.grad(loss))(x)
    _close(jit_grad, eager_grad)
    assert np.isfinite(np.asarray(jit_grad)).all()


def test_jax_vmap_with_keys():
    be = need("jax")
    import jax

    x = from_numpy(be, np.broadcast_to(LOGITS[0], (4, 5)), "float32")
    keys = jax.random.split(jax.random.key(0), 4)
    for f in (lambda a, k: gx.gumbel_log_softmax(a, 0.5, rng=k),
              lambda a, k: gx.gumbel_sigmoid(a, 0.5, rng=k),
              lambda a, k: gx.relaxed_topk(a, 2, 0.5, rng=k),
              lambda a, k: gx.reinmax(a, 1.5, rng=k),
              lambda a, k: gx.gumbel_rao(a, 0.5, samples=3, rng=k)):
        out = jax.vmap(f)(x, keys)
        rows = np.stack([np.asarray(f(x[i], keys[i])) for i in range(4)])
        np.testing.assert_allclose(np.asarray(out), rows, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_tf_function(jit):
    be = need("tensorflow")
    import tensorflow as tf

    x = from_numpy(be, LOGITS, "float32")
    g = from_numpy(be, NOISE, "float32")
    for name, f in functions(be).items():
        eager = f(x, g)
        c = _cot(be, eager)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(f(x, g) * c)
        eager_grad = tape.gradient(loss, x)

        @tf.function(jit_compile=jit)
        def step(a, f=f, c=c):
            with tf.GradientTape() as tape:
                tape.watch(a)
                out = f(a, g)
                loss = tf.reduce_sum(out * c)
            return out, tape.gradient(loss, a)

        out, grad = step(x)
        _close(out, eager)
        _close(grad, eager_grad)
        assert np.isfinite(grad.numpy()).all(), name


@pytest.mark.slow
def test_torch_compile():
    be = need("torch")
    import torch

    x = from_numpy(be, LOGITS, "float32")
    g = from_numpy(be, NOISE, "float32")
    for name, f in functions(be).items():
        eager = f(x, g)
        c = _cot(be, eager)
        xe = x.clone().requires_grad_(True)
        (f(xe, g) * c).sum().backward()
        compiled = torch.compile(f, backend="aot_eager")
        xc = x.clone().requires_grad_(True)
        out = compiled(xc, g)
        (out * c).sum().backward()
        _close(out.detach(), eager.detach())
        _close(xc.grad, xe.grad)
        assert torch.isfinite(xc.grad).all(), name


def test_tf_function_with_unknown_dimensions():
    """An input_signature of [None, None]: symbolic shapes inside the family."""
    be = need("tensorflow")
    import tensorflow as tf

    x = from_numpy(be, LOGITS, "float32")
    g = from_numpy(be, NOISE, "float32")
    spec = [tf.TensorSpec([None, None], tf.float32)] * 2
    for name, f in functions(be).items():
        if name in ("conditional_gumbel", "gumbel_rao"):  # PortableRNG needs known shapes
            continue
        _close(tf.function(f, input_signature=spec)(x, g), f(x, g))
    seeded = {"conditional_gumbel": lambda a, b: gx.conditional_gumbel(
                  a, tf.constant([2, 3, 0], tf.int64), rng=3),
              "gumbel_rao": lambda a, b: gx.gumbel_rao(a, 0.5, rng=3)}
    for f in seeded.values():
        _close(tf.function(f, input_signature=spec)(x, g), f(x, g))
