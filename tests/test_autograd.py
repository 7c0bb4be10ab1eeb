"""Gradients (API.md "Gradients") on the autograd backends, against the
analytic Jacobian of softmax((logits + g) / tau) computed in NumPy float64;
and gumbel_softmax under torch.compile, jax.jit, jax.vmap and tf.function."""

import numpy as np
import pytest
from gumbelxp.backends import get_backend
from gumbelxp.conformance.support import Target, from_numpy, selected_backends, to_numpy

import gumbelxp as gx

SHAPE = (3, 5)


def need(name):
    if name not in selected_backends():
        pytest.skip(f"{name} is not among the selected backends")
    return get_backend(name)


AUTOGRAD = [n for n in selected_backends() if Target(n).has("autograd")]


@pytest.fixture(params=AUTOGRAD)
def backend(request):
    """This module's ``backend``: the selected backends that have autograd."""
    return Target(request.param)


def autograd(backend):
    assert backend.has("autograd")
    return backend


def case(be, seed=0, shape=SHAPE):
    r = np.random.default_rng(seed)
    lg = r.normal(size=shape)
    g = -np.log(-np.log(r.uniform(1e-9, 1.0, size=shape)))
    c = r.normal(size=shape)
    x, gn, cot = (from_numpy(be, a, "float32") for a in (lg, g, c))
    return x, gn, cot, *(to_numpy(a).astype(np.float64) for a in (x, gn, cot))


def analytic(lg, g, c, tau, axis=-1):
    """y, and the gradients of sum(c * y) for logits and tau (per slice)."""
    tau = np.asarray(tau, dtype=np.float64)
    t = np.expand_dims(tau, axis) if tau.ndim else tau
    s = lg + g
    z = s / t
    z = z - z.max(axis=axis, keepdims=True)
    y = np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)
    w = y * (c - (c * y).sum(axis=axis, keepdims=True))  # (diag(y) - y y^T) c
    return y, w / t, -(w * s).sum(axis=axis) / tau**2


@pytest.mark.parametrize("tau", [1.0, 0.4, 3.0])
def test_gradient_matches_analytic_scalar_tau(backend, tau):
    be = autograd(backend)
    x, g, cot, lg, gl, c = case(be)
    y, (grad,) = be.vjp(lambda lgt: gx.gumbel_softmax(lgt, tau, noise=g), (x,), cot)
    y_ref, grad_ref, _ = analytic(lg, gl, c, tau)
    np.testing.assert_allclose(to_numpy(y), y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(grad), grad_ref, rtol=1e-4, atol=1e-6)
    assert np.abs(grad_ref).max() > 1e-3  # a zero gradient would not pass


@pytest.mark.parametrize("axis", [-1, 0])
def test_gradient_reaches_array_tau(backend, axis):
    be = autograd(backend)
    x, g, cot, lg, gl, c = case(be, 1)
    n_slices = SHAPE[1 - axis] if axis == 0 else SHAPE[0]
    taus = np.linspace(0.5, 2.0, n_slices)
    t = from_numpy(be, taus, "float32")
    _, (gl_, gt) = be.vjp(lambda lgt, tt: gx.gumbel_softmax(lgt, tt, axis=axis, noise=g),
                          (x, t), cot)
    _, grad_ref, gtau_ref = analytic(lg, gl, c, to_numpy(t).astype(np.float64), axis)
    np.testing.assert_allclose(to_numpy(gl_), grad_ref, rtol=1e-4, atol=1e-6)
    assert tuple(gt.shape) == (n_slices,)
    np.testing.assert_allclose(to_numpy(gt), gtau_ref, rtol=1e-4, atol=1e-6)
    assert np.abs(gtau_ref).max() > 1e-3


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_straight_through_gradient_is_the_soft_gradient(backend, tau):
    be = autograd(backend)
    x, g, cot, lg, gl, c = case(be, 2)
    h, (gh,) = be.vjp(lambda lgt: gx.gumbel_softmax(lgt, tau, hard=True, noise=g), (x,), cot)
    s, (gs,) = be.vjp(lambda lgt: gx.gumbel_softmax(lgt, tau, noise=g), (x,), cot)
    hn = to_numpy(h)
    assert set(np.unique(hn).tolist()) == {0.0, 1.0} and (hn.sum(-1) == 1).all()
    assert (hn.argmax(-1) == to_numpy(s).argmax(-1)).all()
    np.testing.assert_allclose(to_numpy(gh), to_numpy(gs), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(to_numpy(gh), analytic(lg, gl, c, tau)[1], rtol=1e-4, atol=1e-6)


def test_straight_through_function_passes_the_gradient(backend):
    be = autograd(backend)
    y_soft = from_numpy(be, [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], "float32")
    cot = from_numpy(be, [[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], "float32")
    h, (gy,) = be.vjp(lambda y: gx.straight_through(y), (y_soft,), cot)
    np.testing.assert_array_equal(to_numpy(h), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(to_numpy(gy), to_numpy(cot))  # identity Jacobian


def test_sampled_gradient_is_finite_and_consistent(backend):
    """With sampled noise (a seed), the gradient still equals the analytic one
    for the noise actually drawn: recover it from the same seed's gumbel()."""
    be = autograd(backend)
    x, _, cot, lg, _, c = case(be, 3)
    y, (grad,) = be.vjp(lambda lgt: gx.gumbel_softmax(lgt, 0.7, rng=gx.PortableRNG(4)),
                        (x,), cot)
    g = to_numpy(gx.gumbel(SHAPE, like=x, rng=gx.PortableRNG(4))).astype(np.float64)
    y_ref, grad_ref, _ = analytic(lg, g, c, 0.7)
    np.testing.assert_allclose(to_numpy(y), y_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_numpy(grad), grad_ref, rtol=1e-3, atol=1e-6)


# ---------------------------------------------------------------------------
# compiled and transformed
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_torch_compile():
    be = need("torch")
    import torch

    x, g, cot, lg, gl, c = case(be, 5)

    def f(lgt, tau):
        return gx.gumbel_softmax(lgt, tau, hard=True, noise=g)

    compiled = torch.compile(f, backend="aot_eager", fullgraph=False)
    lx = x.clone().requires_grad_(True)
    tau = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    out = compiled(lx, tau)
    (out * cot).sum().backward()
    y_ref, grad_ref, gtau_ref = analytic(lg, gl, c, [0.5, 1.0, 2.0])
    hn = out.detach().numpy()
    assert (hn.sum(-1) == 1).all() and (hn.argmax(-1) == y_ref.argmax(-1)).all()
    np.testing.assert_allclose(lx.grad.numpy(), grad_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(tau.grad.numpy(), gtau_ref, rtol=1e-4, atol=1e-6)
    # a seeded draw compiles too and matches eager
    seeded = torch.compile(lambda lgt: gx.gumbel_softmax(lgt, 0.5, rng=gx.PortableRNG(1)),
                           backend="aot_eager")
    np.testing.assert_allclose(seeded(x).numpy(),
                               gx.gumbel_softmax(x, 0.5, rng=gx.PortableRNG(1)).numpy(),
                               rtol=1e-6)


def test_jax_jit_and_grad():
    be = need("jax")
    import jax

    x, g, cot, lg, gl, c = case(be, 6)
    key = jax.random.key(0)
    f = jax.jit(lambda lgt, k: gx.gumbel_softmax(lgt, 0.5, rng=k))
    np.testing.assert_allclose(np.asarray(f(x, key)),
                               np.asarray(gx.gumbel_softmax(x, 0.5, rng=key)), rtol=1e-6)
    hard = jax.jit(lambda lgt, k: gx.gumbel_softmax(lgt, 0.5, hard=True, rng=k))(x, key)
    assert (np.asarray(hard).sum(-1) == 1).all()
    # gradients through jit, for logits and an array tau, with fixed noise
    loss = jax.jit(jax.grad(lambda lgt, t: (gx.gumbel_softmax(lgt, t, noise=g) * cot).sum(),
                            argnums=(0, 1)))
    gl_, gt = loss(x, jax.numpy.asarray([0.5, 1.0, 2.0]))
    _, grad_ref, gtau_ref = analytic(lg, gl, c, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(np.asarray(gl_), grad_ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gt), gtau_ref, rtol=1e-4, atol=1e-6)
    # gumbel_max / gumbel_topk under jit
    i = jax.jit(lambda lgt, k: gx.gumbel_max(lgt, rng=k))(x, key)
    np.testing.assert_array_equal(np.asarray(i), np.asarray(gx.gumbel_max(x, rng=key)))
    t = jax.jit(lambda lgt, k: gx.gumbel_topk(lgt, 2, rng=k))(x, key)
    np.testing.assert_array_equal(np.asarray(t), np.asarray(gx.gumbel_topk(x, 2, rng=key)))


def test_jax_vmap_with_keys():
    be = need("jax")
    import jax

    x, *_ = case(be, 7, shape=(4, 6))
    keys = jax.random.split(jax.random.key(1), 4)
    soft = jax.vmap(lambda lgt, k: gx.gumbel_softmax(lgt, rng=k))(x, keys)
    hard = jax.vmap(lambda lgt, k: gx.gumbel_softmax(lgt, 0.5, hard=True, rng=k))(x, keys)
    rows = [np.asarray(gx.gumbel_softmax(x[i], rng=keys[i])) for i in range(4)]
    np.testing.assert_allclose(np.asarray(soft), np.stack(rows), rtol=1e-5, atol=1e-7)
    assert len({tuple(np.round(r, 6)) for r in rows}) == 4  # each key its own noise
    assert (np.asarray(hard).sum(-1) == 1).all()
    # vmap of the gradient (per-example gradients)
    cot = jax.numpy.ones((6,)) * jax.numpy.arange(6.0)
    grads = jax.vmap(jax.grad(lambda lgt, k: (gx.gumbel_softmax(lgt, rng=k) * cot).sum()))(
        x, keys)
    c = np.arange(6.0)
    for i in range(4):
        y = rows[i].astype(np.float64)
        np.testing.assert_allclose(np.asarray(grads[i]), y * (c - (c * y).sum()),
                                   rtol=1e-4, atol=1e-6)


def test_tf_function():
    be = need("tensorflow")
    import tensorflow as tf

    x, g, cot, lg, gl, c = case(be, 8)
    y_ref, grad_ref, _ = analytic(lg, gl, c, 0.5)
    for jit in (False, True):
        @tf.function(jit_compile=jit)
        def step(lgt):
            with tf.GradientTape() as tape:
                tape.watch(lgt)
                y = gx.gumbel_softmax(lgt, 0.5, hard=True, noise=g)
                loss = tf.reduce_sum(y * cot)
            return y, tape.gradient(loss, lgt)

        y, grad = step(x)
        assert (y.numpy().argmax(-1) == y_ref.argmax(-1)).all()
        assert (y.numpy().sum(-1) == 1).all()
        np.testing.assert_allclose(grad.numpy(), grad_ref, rtol=1e-4, atol=1e-6)
        seeded = tf.function(lambda lgt: gx.gumbel_softmax(lgt, 0.5, rng=3), jit_compile=jit)
        np.testing.assert_allclose(seeded(x).numpy(),
                                   gx.gumbel_softmax(x, 0.5, rng=3).numpy(), rtol=1e-5)
