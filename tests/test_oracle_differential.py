"""Differential tests: every public function, backend and internal path
against an independent float64 reference given the same noise.

The paths of the implementation (fused kernels, the tau = 1 folding, the
Gumbel-max one-hot shortcut of ``hard=True``, NumPy's raw-word uniforms,
in-place NumPy/PyTorch temporaries, autograd on or off, read-only inputs)
are reached by varying what selects them: ``noise=`` or ``rng=``, ``tau``
exactly 1 or not and of every kind (Python, NumPy scalar, 0-d array, per
slice), ``hard``, whether the logits need a gradient, sizes below and above
4096. Hypothesis drives shapes, axes, dtypes, masks and those choices.

Three references:

* ``noise=`` given: ``softmax((x + g) / tau)`` in float64 (and its argmax,
  top-k order, one-hot);
* ``rng=`` given: the same formula with ``g = gx.gumbel(shape, like=x,
  rng=<an identical generator>)``: every path must draw its noise as the
  plain sampler draws it from the same generator state (the issue's
  "compared with the generic path given the same generator");
* gradients: the analytic Jacobian of the softmax (straight-through for
  ``hard=True``), for the logits and for an array ``tau``.
"""

from __future__ import annotations

import _oracle_support as S
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gumbelxp as gx

BACKENDS = S.backends()
HYP = settings(deadline=None, derandomize=True, database=None,
               phases=(Phase.explicit, Phase.generate, Phase.shrink),
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
EXAMPLES = {"numpy": 40, "torch": 40, "array_api_strict": 15, "tensorflow": 15, "dask": 10,
            "jax": 8}
DTYPES = {"numpy": ("float32", "float64", "float16"),
          "torch": ("float32", "float64", "float16", "bfloat16"),
          "jax": ("float32", "bfloat16"),
          "tensorflow": ("float32", "float64", "float16"),
          "array_api_strict": ("float32", "float64"),
          "dask": ("float32", "float64")}
TOL = {"float64": (1e-9, 1e-12), "float32": (2e-4, 2e-6), "float16": (2e-2, 2e-3),
       "bfloat16": (5e-2, 1e-2)}
TAU_KINDS = ("python", "one", "numpy64", "numpy32", "0-d", "per-slice", "per-slice-keepdims")


@st.composite
def case(draw, be, with_mask=True):
    dtype = draw(st.sampled_from(DTYPES[be]))
    if be == "jax":  # JAX compiles every new shape (seconds each): a few shapes
        shape = draw(st.sampled_from([(3, 4), (2, 3, 4), (5,)]))
    else:
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    logits = r.normal(size=shape) * draw(st.sampled_from([0.5, 3.0]))
    if with_mask and draw(st.booleans()) and shape[axis] > 1:
        # mask some categories, never a whole slice
        m = r.random(shape) < 0.3
        first = [slice(None)] * len(shape)
        first[axis] = 0
        m[tuple(first)] = False
        logits = np.where(m, -np.inf, logits)
    logits = logits.astype(dtype if dtype != "bfloat16" else "float32").astype(np.float64)
    kind = draw(st.sampled_from(TAU_KINDS))
    t = draw(st.sampled_from([0.1, 0.5, 2.0, 7.0]))
    slice_shape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
    if kind == "python":
        tau = t
    elif kind == "one":
        tau = 1.0
    elif kind == "numpy64":
        tau = np.float64(t)
    elif kind == "numpy32":
        tau = np.float32(t)
    elif kind == "0-d":
        tau = np.asarray(t)
    elif kind == "per-slice":
        tau = r.choice([0.1, 0.5, 2.0, 7.0], size=slice_shape)
    else:
        tau = np.expand_dims(r.choice([0.1, 0.5, 2.0, 7.0], size=slice_shape), axis)
    hard = draw(st.booleans())
    grad = be in ("torch",) and draw(st.booleans())
    return dict(dtype=dtype, shape=shape, axis=axis, logits=logits, tau=tau, kind=kind,
                hard=hard, grad=grad, seed=seed)


def _tau(be, tau, dtype):
    if isinstance(tau, np.ndarray):
        # an array tau is of the logits' framework; half precision tau in float32 is
        # still "an array of the logits' framework"
        return S.asarray(be, tau, dtype)
    return tau


def _tau64(tau, dtype):
    """tau as the implementation sees it: an array tau holds values of the
    logits' dtype."""
    if isinstance(tau, np.ndarray):
        return tau.astype(dtype if dtype != "bfloat16" else "float32").astype(np.float64)
    return float(tau)


def _noise(r, shape, dtype):
    g = r.gumbel(size=shape)
    return g.astype(dtype if dtype != "bfloat16" else "float32").astype(np.float64)


def _check_against_reference(be, c, y, g):
    """y = gumbel_softmax(..) on noise g (float64 values as the backend saw them)."""
    dtype, axis = c["dtype"], c["axis"]
    x = c["logits"]
    s = x + g
    got = S.to_np(y).astype(np.float64)
    assert got.shape == x.shape
    assert not np.isnan(got).any(), "NaN for valid input"
    if c["hard"]:
        assume(S.top_gap(s, axis) > 1e-2)
        want = S.one_hot(np.argmax(s, axis=axis), x.shape[axis], axis)
        np.testing.assert_array_equal(got, want, err_msg=f"hard, tau {c['kind']}")
    else:
        want = S.ref_gumbel_softmax(x, g, _tau64(c["tau"], dtype), axis)
        rtol, atol = TOL[dtype]
        # scores (x + g) / tau are rounded in the working dtype: scale the tolerance
        t = np.min(_tau64(c["tau"], dtype))
        scale = max(1.0, float(np.max(np.abs(np.where(np.isfinite(s), s, 0)))) / t)
        np.testing.assert_allclose(got, want, rtol=rtol * scale, atol=atol * scale,
                                   err_msg=f"tau {c['kind']}")
        assert (got[np.isneginf(x)] == 0).all(), "a masked category got mass"


# ---------------------------------------------------------------------------
# noise= given: the float64 formula
# ---------------------------------------------------------------------------
def _run_noise_case(be, c):
    dtype, axis = c["dtype"], c["axis"]
    r = np.random.default_rng(c["seed"] + 1)
    g = _noise(r, c["shape"], dtype)
    x = S.asarray(be, c["logits"], dtype, requires_grad=c["grad"])
    noise = S.asarray(be, g, dtype)
    g = S.to_np(noise).astype(np.float64)
    tau = _tau(be, c["tau"], dtype)
    y = gx.gumbel_softmax(x, tau, hard=c["hard"], axis=axis, noise=noise)
    assert S.dtype_name(y) == dtype
    _check_against_reference(be, c, y, g)
    s = c["logits"] + g
    assume(S.top_gap(s, axis) > 1e-2)
    idx = S.to_np(gx.gumbel_max(x, axis=axis, noise=noise))
    np.testing.assert_array_equal(idx, np.argmax(s, axis=axis))
    k = min(2, c["shape"][axis])
    top = S.to_np(gx.gumbel_topk(x, k, axis=axis, noise=noise))
    order = np.take(np.argsort(-s, axis=axis, kind="stable"), np.arange(k), axis=axis)
    finite = np.take(np.sort(-s, axis=axis), np.arange(k), axis=axis) < np.inf
    np.testing.assert_array_equal(np.where(finite, top, -1), np.where(finite, order, -1))
    st_ = S.to_np(gx.straight_through(S.asarray(be, S.softmax64(s, axis), dtype), axis=axis))
    np.testing.assert_array_equal(st_, S.one_hot(np.argmax(s, axis=axis), c["shape"][axis], axis))


@pytest.mark.slow
@pytest.mark.parametrize("be", BACKENDS)
def test_every_function_equals_the_float64_formula_given_noise(be):
    @settings(HYP, max_examples=EXAMPLES[be])
    @given(c=case(be))
    def check(c):
        _run_noise_case(be, c)

    check()


# ---------------------------------------------------------------------------
# rng= given: the noise the plain sampler draws from the same generator
# ---------------------------------------------------------------------------
def _twin_generators(be, kind, seed):
    """Two generators in the same state (the second for gx.gumbel)."""
    if kind == "int":
        return seed, seed
    if kind == "PortableRNG":
        return gx.PortableRNG(seed), gx.PortableRNG(seed)
    if be in ("numpy", "array_api_strict"):
        bg = {"PCG64": np.random.PCG64, "MT19937": np.random.MT19937,
              "SFC64": np.random.SFC64}[kind]
        return np.random.Generator(bg(seed)), np.random.Generator(bg(seed))
    if be == "torch":
        import torch

        return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    if be == "jax":
        import jax

        return jax.random.key(seed), jax.random.key(seed)
    if be == "tensorflow":
        import tensorflow as tf

        return tf.random.Generator.from_seed(seed), tf.random.Generator.from_seed(seed)
    raise ValueError(be)


RNG_KINDS = {"numpy": ("PCG64", "MT19937", "SFC64", "int", "PortableRNG"),
             "array_api_strict": ("PCG64", "int", "PortableRNG"),
             "torch": ("native", "int", "PortableRNG"),
             "jax": ("native", "int"),
             "tensorflow": ("native", "int", "PortableRNG"),
             "dask": ("int", "PortableRNG")}


@st.composite
def rng_case(draw, be):
    c = draw(case(be))
    c["rng"] = draw(st.sampled_from(RNG_KINDS[be]))
    if draw(st.integers(0, 4)) == 0:  # sometimes above 4096 values (raw-word uniforms)
        c["shape"] = (1100, 4)
        c["axis"] = -1
        r = np.random.default_rng(c["seed"])
        c["logits"] = r.normal(size=c["shape"]).astype(
            c["dtype"] if c["dtype"] != "bfloat16" else "float32").astype(np.float64)
        if isinstance(c["tau"], np.ndarray):
            c["tau"] = r.uniform(0.2, 3.0, size=(1100,) if c["kind"] == "per-slice"
                                 else (1100, 1))
    return c


def _run_rng_case(be, c):
    dtype, axis = c["dtype"], c["axis"]
    wdt = "float32" if dtype in ("float16", "bfloat16") else dtype
    rng_a, rng_b = _twin_generators(be, c["rng"], c["seed"] % 2**31)
    x = S.asarray(be, c["logits"], dtype, requires_grad=c["grad"])
    y = gx.gumbel_softmax(x, _tau(be, c["tau"], dtype), hard=c["hard"], axis=axis, rng=rng_a)
    assert S.dtype_name(y) == dtype
    g = S.to_np(gx.gumbel(c["shape"], xp=be, dtype=wdt, rng=rng_b)).astype(np.float64)
    _check_against_reference(be, c, y, g)
    # gumbel_max from the same state: argmax(x + g)
    rng_a, rng_b = _twin_generators(be, c["rng"], c["seed"] % 2**31 + 1)
    idx = S.to_np(gx.gumbel_max(x, axis=axis, rng=rng_a))
    g = S.to_np(gx.gumbel(c["shape"], xp=be, dtype=wdt, rng=rng_b)).astype(np.float64)
    s = c["logits"] + g
    assume(S.top_gap(s, axis) > 1e-2)
    np.testing.assert_array_equal(idx, np.argmax(s, axis=axis))


@pytest.mark.slow
@pytest.mark.parametrize("be", BACKENDS)
def test_every_path_draws_the_noise_of_the_plain_sampler(be):
    @settings(HYP, max_examples=EXAMPLES[be])
    @given(c=rng_case(be))
    def check(c):
        _run_rng_case(be, c)

    check()


# ---------------------------------------------------------------------------
# PortableRNG and int seeds: the same result on every backend
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_portable_rng_same_result_on_every_backend(be, dtype):
    if not S.is_float_dtype_supported(be, dtype):
        pytest.skip(f"{be} has no {dtype} here")
    # 32 x 7 float32 values: within PortableRNG's smallest draw (256 words), so
    # every draw below has the same array shapes (JAX compiles once)
    logits = np.random.default_rng(3).normal(size=(32, 7))
    logits[1, 2] = -np.inf
    x_np, x = logits.astype(dtype), S.asarray(be, logits, dtype)
    rtol, atol = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)}[dtype]
    for tau in (0.5, 1.0):
        for hard in (False, True):
            a = gx.gumbel_softmax(x_np, tau, hard=hard, rng=gx.PortableRNG(9))
            b = S.to_np(gx.gumbel_softmax(x, tau, hard=hard, rng=gx.PortableRNG(9)))
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"tau={tau} hard={hard}")
    np.testing.assert_array_equal(S.to_np(gx.gumbel_max(x, rng=gx.PortableRNG(9))),
                                  gx.gumbel_max(x_np, rng=gx.PortableRNG(9)))
    np.testing.assert_array_equal(S.to_np(gx.gumbel_topk(x, 3, rng=gx.PortableRNG(9))),
                                  gx.gumbel_topk(x_np, 3, rng=gx.PortableRNG(9)))
    np.testing.assert_allclose(
        S.to_np(gx.gumbel((5, 3), xp=be, dtype=dtype, rng=gx.PortableRNG(9))),
        gx.gumbel((5, 3), dtype=dtype, rng=gx.PortableRNG(9)), rtol=rtol, atol=atol)
    # the generator advances by the same amount everywhere: a second draw agrees too
    ra, rb = gx.PortableRNG(10), gx.PortableRNG(10)
    gx.gumbel_softmax(x_np, 0.5, rng=ra)
    gx.gumbel_softmax(x, 0.5, rng=rb)
    np.testing.assert_allclose(S.to_np(gx.gumbel((4,), xp=be, dtype=dtype, rng=rb)),
                               gx.gumbel((4,), dtype=dtype, rng=ra), rtol=rtol, atol=atol)
    if be in ("numpy", "array_api_strict", "dask"):
        # README: an int seed on these three means PortableRNG(seed)
        np.testing.assert_array_equal(S.to_np(gx.gumbel_softmax(x, 0.5, rng=9)),
                                      gx.gumbel_softmax(x_np, 0.5, rng=gx.PortableRNG(9)))


# ---------------------------------------------------------------------------
# autograd on / off, in place / read-only: the same values from the same state
# ---------------------------------------------------------------------------
def test_torch_autograd_on_off_and_no_grad_give_the_same_values():
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(4).normal(size=(300, 20))  # 6000 values
    for dtype in (torch.float32, torch.float64, torch.float16):
        for tau in (1.0, 0.5):
            for hard in (False, True):
                outs = []
                for mode in ("plain", "grad", "no_grad", "inference"):
                    x = torch.tensor(logits, dtype=dtype)
                    if mode == "grad":
                        x.requires_grad_(True)
                    g = torch.Generator().manual_seed(5)
                    if mode == "no_grad":
                        with torch.no_grad():
                            y = gx.gumbel_softmax(x.requires_grad_(True), tau, hard=hard, rng=g)
                    elif mode == "inference":
                        with torch.inference_mode():
                            y = gx.gumbel_softmax(x, tau, hard=hard, rng=g)
                    else:
                        y = gx.gumbel_softmax(x, tau, hard=hard, rng=g)
                    outs.append(y.detach().float().numpy())
                rtol, atol = TOL[str(dtype).split(".")[-1]]
                for mode, o in zip(("grad", "no_grad", "inference"), outs[1:], strict=True):
                    np.testing.assert_allclose(o, outs[0], rtol=rtol, atol=atol,
                                               err_msg=f"{dtype} tau={tau} hard={hard} {mode}")


def test_numpy_writeable_and_read_only_inputs_give_the_same_values():
    logits = np.random.default_rng(5).normal(size=(300, 20))
    for dtype in ("float32", "float64", "float16"):
        for tau in (1.0, 0.5):
            for hard in (False, True):
                outs = []
                for layout in ("writeable", "read-only", "broadcast", "fortran"):
                    x = logits.astype(dtype)
                    if layout == "read-only":
                        x.flags.writeable = False
                    elif layout == "broadcast":
                        x = np.broadcast_to(x[:1], x.shape)
                    elif layout == "fortran":
                        x = np.asfortranarray(x)
                    y = gx.gumbel_softmax(x, tau, hard=hard,
                                          rng=np.random.Generator(np.random.PCG64(6)))
                    outs.append(y)
                rtol, atol = TOL[dtype]
                want = gx.gumbel_softmax(np.ascontiguousarray(np.broadcast_to(
                    logits.astype(dtype)[:1], logits.shape)), tau, hard=hard,
                    rng=np.random.Generator(np.random.PCG64(6)))
                for layout, o, w in (("read-only", outs[1], outs[0]),
                                     ("fortran", outs[3], outs[0]),
                                     ("broadcast", outs[2], want)):
                    np.testing.assert_allclose(o, w, rtol=rtol, atol=atol,
                                               err_msg=f"{dtype} tau={tau} hard={hard} {layout}")


# ---------------------------------------------------------------------------
# gradients: the analytic Jacobian
# ---------------------------------------------------------------------------
def _analytic_grads(x, g, tau, w, axis=-1):
    """d/dx and d/dtau of sum(w * softmax((x + g) / tau)); -inf entries get 0."""
    s = x + g
    y = S.ref_gumbel_softmax(x, g, tau, axis)
    t = S.tau_per_slice(tau, x.ndim, axis % x.ndim)
    dz = y * (w - (y * w).sum(axis, keepdims=True))  # dL/dz, z = (s - max) / tau
    dx = dz / t
    sm = s - np.max(s, axis=axis, keepdims=True)
    sm = np.where(np.isneginf(s), 0.0, sm)
    dtau = -(dz * sm).sum(axis, keepdims=True) / t**2
    return dx, dtau


def _grads(be, x, g, tau, w, hard, axis, tau_array):
    """(dL/dx, dL/dtau or None) from the backend's autograd, float64 NumPy."""
    if be == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(np.asarray(tau, np.float64), requires_grad=True) if tau_array else tau
        y = gx.gumbel_softmax(xt, tt, hard=hard, axis=axis, noise=torch.tensor(g))
        (y * torch.tensor(w)).sum().backward()
        return xt.grad.numpy(), tt.grad.numpy() if tau_array else None
    if be == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        tt = tf.constant(np.asarray(tau, np.float64)) if tau_array else tau
        with tf.GradientTape() as tape:
            tape.watch(xt)
            if tau_array:
                tape.watch(tt)
            y = gx.gumbel_softmax(xt, tt, hard=hard, axis=axis, noise=tf.constant(g))
            loss = tf.reduce_sum(y * w)
        grads = tape.gradient(loss, [xt, tt] if tau_array else [xt])
        return grads[0].numpy(), grads[1].numpy() if tau_array else None
    import jax
    import jax.numpy as jnp

    def loss(xv, tv):
        y = gx.gumbel_softmax(xv, tv, hard=hard, axis=axis, noise=jnp.asarray(g, jnp.float32))
        return jnp.sum(y * jnp.asarray(w, jnp.float32))

    xj = jnp.asarray(x, jnp.float32)
    if tau_array:
        dx, dt = jax.grad(loss, argnums=(0, 1))(xj, jnp.asarray(tau, jnp.float32))
        return np.asarray(dx, np.float64), np.asarray(dt, np.float64)
    return np.asarray(jax.grad(loss)(xj, tau), np.float64), None


@pytest.mark.parametrize("be", S.backends("torch", "tensorflow", "jax"))
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau_kind", ["python", "one", "per-slice", "per-slice-keepdims"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_gradients_equal_the_analytic_jacobian(be, hard, tau_kind, axis):
    r = np.random.default_rng(7)
    x = r.normal(size=(4, 6))
    x[1, 2] = -np.inf
    x[0, 0] = -np.inf
    g = r.gumbel(size=(4, 6))
    w = r.normal(size=(4, 6))
    slice_shape = (4,) if axis == -1 else (6,)
    tau = {"python": 0.7, "one": 1.0,
           "per-slice": r.uniform(0.3, 2.0, size=slice_shape)}.get(tau_kind)
    if tau_kind == "per-slice-keepdims":
        tau = np.expand_dims(r.uniform(0.3, 2.0, size=slice_shape), axis)
    tau_array = isinstance(tau, np.ndarray)
    dx, dtau = _grads(be, x, g, tau, w, hard, axis, tau_array)
    want_dx, want_dtau = _analytic_grads(x, g, tau, w, axis)
    tol = dict(rtol=1e-4, atol=1e-5) if be == "jax" else dict(rtol=1e-7, atol=1e-10)
    assert np.isfinite(dx).all(), "NaN or inf in the gradient"
    np.testing.assert_allclose(dx, want_dx, **tol)
    if tau_array:
        assert np.isfinite(dtau).all()
        np.testing.assert_allclose(dtau, want_dtau.reshape(dtau.shape), **tol)
