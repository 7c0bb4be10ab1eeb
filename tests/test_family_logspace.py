"""gumbel_log_softmax and exp_relaxed_log_prob (the ExpConcrete distribution)
on every backend, against NumPy float64 formulas, TensorFlow Probability's
ExpRelaxedOneHotCategorical and PyTorch's RelaxedOneHotCategorical; finite in
float32 where gumbel_softmax underflows; -inf masks exact; gradients against
the analytic Jacobian and central differences of the float64 reference."""

import math

import numpy as np
import pytest
from _family_support import NEG, arr, back, best, tfd, tol
from gumbelxp.conformance import reference_family as R
from gumbelxp.conformance.support import (
    TOLERANCES,
    dtype_name,
    float_dtypes,
)

import gumbelxp as gx


def case(seed, shape=(4, 6), mask=False):
    r = np.random.default_rng(seed)
    logits = r.normal(0.0, 2.0, shape)
    if mask:
        logits[0, 1] = NEG
        logits[2, 0] = NEG
        logits[2, 4] = NEG
    return logits, r.gumbel(size=shape), r.normal(size=shape)


# ---------------------------------------------------------------------------
# gumbel_log_softmax
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [1.0, 0.3, 2.5, "slice"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_gumbel_log_softmax_matches_reference(backend, tau, axis):
    logits, g, _ = case(1, mask=True)
    for dt in float_dtypes(backend):
        x, gn = arr(backend, logits, dt), arr(backend, g, dt)
        lg, gg = back(x), back(gn)
        n_slices = logits.shape[1 - (axis % 2)]
        t_np = np.linspace(0.4, 2.0, n_slices) if tau == "slice" else tau
        t = arr(backend, t_np, dt) if tau == "slice" else tau
        t_ref = back(t) if tau == "slice" else tau
        out = gx.gumbel_log_softmax(x, t, axis, noise=gn)
        assert dtype_name(out) == dt and tuple(out.shape) == logits.shape
        ref = R.gumbel_log_softmax_ref(lg, gg, t_ref, axis)
        got = back(out)
        assert (np.isneginf(got) == np.isneginf(ref)).all()  # exactly at the masks
        fin = np.isfinite(ref)
        # half precision: values up to ~30 in magnitude, rounded to 11 (8) bits
        r, a = TOLERANCES[dt]
        np.testing.assert_allclose(got[fin], ref[fin], rtol=r * 4, atol=a * 4 * 30)


def test_exp_of_gumbel_log_softmax_is_gumbel_softmax(backend):
    logits, g, _ = case(2, (5, 7), mask=True)
    for dt in ("float32", best(backend)):
        x, gn = arr(backend, logits, dt), arr(backend, g, dt)
        for tau in (0.2, 1.0, 3.0):
            y = back(gx.gumbel_softmax(x, tau, noise=gn))
            ly = back(gx.gumbel_log_softmax(x, tau, noise=gn))
            np.testing.assert_allclose(np.exp(ly), y, **tol(dt, 10))
            assert (y[np.isneginf(ly)] == 0).all()


@pytest.mark.parametrize("tau", [0.03, 0.01, 1e-3, 1e-6, 1e-30])
def test_finite_in_float32_where_gumbel_softmax_underflows(backend, tau):
    """Probabilities [.1, .2, .3, .4]: gumbel_softmax has exact zeros at small
    tau in float32; the log-space sample and its density stay finite."""
    n = 2000
    logits = np.broadcast_to(np.log([0.1, 0.2, 0.3, 0.4]), (n, 4))
    x = arr(backend, logits, "float32")
    y = back(gx.gumbel_softmax(x, tau, rng=gx.PortableRNG(3)))
    ly = gx.gumbel_log_softmax(x, tau, rng=gx.PortableRNG(3))
    lyn = back(ly)
    assert np.isfinite(lyn).all()
    zeros = (y == 0).mean()
    if tau <= 0.01:
        assert zeros > 0.3  # the "54% at tau = 0.01"
    elif tau == 0.03:
        assert 0.05 < zeros < 0.3  # "15% at tau = 0.03"
    # the same sample; logsumexp 0
    assert (np.abs(np.log(np.exp(lyn - lyn.max(-1, keepdims=True)).sum(-1))
                   + lyn.max(-1)) < 1e-5).all()
    nz = y > 1e-30
    np.testing.assert_allclose(np.exp(lyn[nz]), y[nz], rtol=1e-4, atol=1e-7)
    lp = back(gx.exp_relaxed_log_prob(ly, x, tau))
    assert np.isfinite(lp).all()
    if tau >= 1e-6:  # the float64 reference at the float32 points
        ref = R.exp_relaxed_log_prob_ref(lyn, back(x), tau)
        np.testing.assert_allclose(lp, ref, rtol=1e-4, atol=1e-3)


def test_half_precision_is_finite_and_in_dtype(backend):
    for dt in float_dtypes(backend):
        if dt not in ("float16", "bfloat16"):
            continue
        x = arr(backend, np.log([[0.1, 0.2, 0.3, 0.4]] * 8), dt)
        for tau in (1.0, 1e-3):
            ly = gx.gumbel_log_softmax(x, tau, rng=gx.PortableRNG(1))
            assert dtype_name(ly) == dt
            assert np.isfinite(back(ly)).all()
            lp = gx.exp_relaxed_log_prob(ly, x, tau)
            assert dtype_name(lp) == dt and np.isfinite(back(lp)).all()


def test_masked_categories_are_exactly_minus_inf(backend):
    logits = np.array([[0.0, NEG, 1.0, NEG], [NEG, 2.0, NEG, NEG]])
    x = arr(backend, logits, best(backend))
    for tau in (1.0, 1e-3, "slice"):
        t = arr(backend, [0.5, 2.0], best(backend)) if tau == "slice" else tau
        ly = back(gx.gumbel_log_softmax(x, t, rng=gx.PortableRNG(0)))
        assert (np.isneginf(ly) == np.isneginf(logits)).all()
        assert ly[1, 1] == 0.0  # the only category left: log 1
        lp = back(gx.exp_relaxed_log_prob(arr(backend, ly, best(backend)), x, t))
        assert np.isfinite(lp).all()
        assert lp[1] == 0.0  # one category: a point mass, log density 0 by convention


def test_masked_density_is_that_of_the_other_categories(backend):
    """A -inf logit is absent: the density equals that of the remaining ones."""
    logits = np.array([0.3, NEG, -0.5, 1.2, NEG])
    keep = np.isfinite(logits)
    r = np.random.default_rng(5)
    dt = best(backend)
    for tau in (0.3, 1.0, 2.0):
        g = r.gumbel(size=5)
        ly = R.gumbel_log_softmax_ref(logits, g, tau)
        got = back(gx.exp_relaxed_log_prob(arr(backend, ly, dt), arr(backend, logits, dt), tau))
        want = R.exp_relaxed_log_prob_ref(ly[keep], logits[keep], tau)
        want_tfp = tfd().ExpRelaxedOneHotCategorical(tau, logits=logits[keep]).log_prob(ly[keep])
        np.testing.assert_allclose(got, want, **tol(dt, 10))
        np.testing.assert_allclose(want, want_tfp, rtol=1e-12)


# ---------------------------------------------------------------------------
# exp_relaxed_log_prob against TFP, the formula, and relaxed_log_prob
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0, 3.0])
def test_exp_relaxed_log_prob_matches_tfp(backend, tau):
    r = np.random.default_rng(int(tau * 100))
    logits = r.normal(0.0, 1.5, (6, 5))
    ly = R.gumbel_log_softmax_ref(logits, r.gumbel(size=(6, 5)), tau)
    want = tfd().ExpRelaxedOneHotCategorical(tau, logits=logits).log_prob(ly)
    np.testing.assert_allclose(R.exp_relaxed_log_prob_ref(ly, logits, tau), want,
                               rtol=1e-10, atol=1e-10)
    for dt in ("float32", best(backend)):
        got = gx.exp_relaxed_log_prob(arr(backend, ly, dt), arr(backend, logits, dt), tau)
        assert dtype_name(got) == dt and tuple(got.shape) == (6,)
        # float32: |log p| ~ 10-100, rounding of tau * log_y (|log_y| up to 1/tau)
        scale = 1.0 if dt == "float64" else 1 / tau
        np.testing.assert_allclose(back(got), want, rtol=1e-4 if dt == "float32" else 1e-10,
                                   atol=(2e-4 if dt == "float32" else 1e-10) * scale)


def test_exp_relaxed_log_prob_broadcasts_and_takes_slice_tau(backend):
    r = np.random.default_rng(7)
    logits = r.normal(size=5)  # one vector for many points
    taus = np.array([0.3, 1.0, 2.0])
    ly = np.stack([R.gumbel_log_softmax_ref(logits, r.gumbel(size=5), t) for t in taus])
    dt = best(backend)
    got = back(gx.exp_relaxed_log_prob(arr(backend, ly, dt), arr(backend, logits, dt),
                                       arr(backend, taus, dt)))
    want = np.array([tfd().ExpRelaxedOneHotCategorical(t, logits=logits).log_prob(v)
                     for t, v in zip(taus, ly, strict=True)])
    np.testing.assert_allclose(got, want, **tol(dt, 100))
    # axis 0 in the broadcast shape: the transposed problem
    got0 = back(gx.exp_relaxed_log_prob(arr(backend, ly.T, dt), arr(backend, logits[:, None], dt),
                                        arr(backend, taus, dt), axis=0))
    np.testing.assert_allclose(got0, want, **tol(dt, 100))


def test_relation_to_relaxed_log_prob(backend):
    """relaxed_log_prob(y) = exp_relaxed_log_prob(log y) - sum log y, and both
    equal torch.distributions' RelaxedOneHotCategorical (a third reference)."""
    r = np.random.default_rng(8)
    logits = r.normal(size=(5, 4))
    dt = best(backend)
    for tau in (0.4, 1.0, 2.0):
        y = np.exp(R.gumbel_log_softmax_ref(logits, r.gumbel(size=(5, 4)), tau))
        x, yy = arr(backend, logits, dt), arr(backend, y, dt)
        e = back(gx.exp_relaxed_log_prob(gx.gumbel_log_softmax(
            x, 1.0, noise=arr(backend, np.log(y) - logits, dt)), x, tau))
        concrete = back(gx.relaxed_log_prob(yy, x, tau))
        np.testing.assert_allclose(e - np.log(back(yy)).sum(-1), concrete, **tol(dt, 100))
        np.testing.assert_allclose(concrete, R.relaxed_log_prob_ref(y, logits, tau),
                                   **tol(dt, 100))
    torch = pytest.importorskip("torch")
    td = torch.distributions.RelaxedOneHotCategorical(
        torch.tensor(0.7, dtype=torch.float64), logits=torch.tensor(logits))
    y = td.sample((3,))  # (3, 5, 4)
    ly = y.log().numpy()
    got = back(gx.exp_relaxed_log_prob(arr(backend, ly, dt), arr(backend, logits, dt), 0.7))
    np.testing.assert_allclose(got - ly.sum(-1), td.log_prob(y).numpy(), **tol(dt, 100))


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------


def central_diff(f, args, i, h=1e-6):
    """d sum(f(*args)) / d args[i] by central differences (float64)."""
    a = [np.array(v, dtype=np.float64) for v in args]
    out = np.zeros_like(a[i])
    for j in np.ndindex(*a[i].shape):
        if not np.isfinite(a[i][j]):
            continue
        ap, am = [v.copy() for v in a], [v.copy() for v in a]
        ap[i][j] += h
        am[i][j] -= h
        out[j] = (f(*ap) - f(*am)).sum() / (2 * h)
    return out


@pytest.mark.parametrize("tau_kind", ["scalar", "slice"])
def test_gumbel_log_softmax_gradient(ad, tau_kind):
    logits, g, cot = case(3, (3, 5), mask=True)
    dt = best(ad)
    x, gn, c = arr(ad, logits, dt), arr(ad, g, dt), arr(ad, cot, dt)
    lg, gg, cc = back(x), back(gn), back(c)
    taus = np.array([0.5, 1.0, 2.0])
    if tau_kind == "scalar":
        out, (gx_,) = ad.vjp(lambda a: gx.gumbel_log_softmax(a, 0.7, noise=gn), (x,), c)
        t = 0.7
    else:
        tt = arr(ad, taus, dt)
        out, (gx_, gt) = ad.vjp(lambda a, b: gx.gumbel_log_softmax(a, b, noise=gn),
                                     (x, tt), c)
        t = back(tt)[:, None]
    y = np.exp(R.gumbel_log_softmax_ref(lg, gg, t if tau_kind == "scalar" else t[:, 0]))
    # d/dlogits of sum(c * log_softmax(s / t)) = (c - y sum(c)) / t; a masked entry
    # is a constant -inf: no gradient reaches it, and its cotangent is not used
    cc = np.where(np.isneginf(lg), 0.0, cc)
    want = (cc - y * cc.sum(-1, keepdims=True)) / t
    want[np.isneginf(lg)] = 0.0
    got = back(gx_)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, **tol(dt, 100))
    if tau_kind == "slice":
        gt = back(gt)
        assert np.isfinite(gt).all()
        fd = central_diff(lambda tv: (cc * np.nan_to_num(R.gumbel_log_softmax_ref(
            lg, gg, tv), neginf=0.0)).sum(-1), (back(tt),), 0)
        np.testing.assert_allclose(gt, fd, rtol=1e-5 if dt == "float64" else 1e-3, atol=1e-6)


def test_exp_relaxed_log_prob_gradient(ad):
    r = np.random.default_rng(9)
    logits = r.normal(size=(3, 4))
    logits[1, 2] = NEG
    taus = np.array([0.5, 1.0, 1.7])
    ly = R.gumbel_log_softmax_ref(logits, r.gumbel(size=(3, 4)), taus)
    dt = best(ad)
    x, lyb, tt = arr(ad, logits, dt), arr(ad, ly, dt), arr(ad, taus, dt)
    c = arr(ad, [1.0, -2.0, 0.5], dt)
    _, (g_ly, g_x, g_t) = ad.vjp(lambda a, b, t: gx.exp_relaxed_log_prob(a, b, t),
                                      (lyb, x, tt), c)
    cc = np.array([1.0, -2.0, 0.5])

    def f(a, b, t):
        return cc * R.exp_relaxed_log_prob_ref(a, b, t)

    args = (back(lyb), back(x), back(tt))
    rt = 1e-5 if dt == "float64" else 2e-3
    for got, i in ((g_ly, 0), (g_x, 1), (g_t, 2)):
        got = back(got)
        assert np.isfinite(got).all()
        want = central_diff(f, args, i)
        if i < 2:
            want[1, 2] = 0.0  # the masked category: absent, no gradient
        np.testing.assert_allclose(got, want, rtol=rt, atol=rt * 1e-2)


def test_gradient_finite_at_tiny_tau_float32(ad):
    x = arr(ad, [[-2.3, -1.6, NEG, -0.9]] * 4, "float32")
    c = arr(ad, np.arange(16.0).reshape(4, 4) / 16, "float32")
    for tau in (1e-3, 1e-6):
        _, (g1,) = ad.vjp(lambda a, tau=tau: gx.gumbel_log_softmax(a, tau, rng=gx.PortableRNG(2)),
                               (x,), c)
        ly = gx.gumbel_log_softmax(x, tau, rng=gx.PortableRNG(2))
        _, (g2,) = ad.vjp(lambda a, ly=ly, tau=tau: gx.exp_relaxed_log_prob(ly, a, tau), (x,),
                               arr(ad, np.ones(4), "float32"))
        assert np.isfinite(back(g1)).all() and np.isfinite(back(g2)).all()
        assert (back(g1)[:, 2] == 0).all() and (back(g2)[:, 2] == 0).all()


# ---------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------
def test_validate_names_the_first_bad_slice(backend):
    good = R.gumbel_log_softmax_ref(np.zeros((3, 4)), np.zeros((3, 4)), 1.0)
    bad = good.copy()
    bad[1] += 0.1  # logsumexp 0.1
    x = arr(backend, np.zeros((3, 4)))
    gx.exp_relaxed_log_prob(arr(backend, good), x, 1.0, validate=True)
    with pytest.raises(ValueError, match=r"log_y\[1, :\]"):
        gx.exp_relaxed_log_prob(arr(backend, bad), x, 1.0, validate=True)
    with pytest.raises(ValueError, match=r"logits\[2, :\]"):
        gx.exp_relaxed_log_prob(arr(backend, good), arr(backend, [[0.0] * 4] * 2 + [[NEG] * 4]),
                                1.0, validate=True)
    with pytest.raises(ValueError, match=r"logits\[:, 1\]"):
        gx.gumbel_log_softmax(arr(backend, [[0.0, np.nan], [1.0, 2.0]]), axis=0, rng=0,
                              validate=True)
    # without validate: NaN confined to the bad slice
    out = back(gx.gumbel_log_softmax(arr(backend, [[0.0, np.nan], [1.0, 2.0], [NEG, NEG]]),
                                     rng=gx.PortableRNG(0)))
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all() and np.isnan(out[2]).all()


@pytest.mark.parametrize("tau", [0.0, -1.0, math.inf, math.nan, np.float64(-2.0)])
def test_bad_tau(backend, tau):
    x = arr(backend, [[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError):
        gx.gumbel_log_softmax(x, tau, rng=0)
    with pytest.raises(ValueError):
        gx.exp_relaxed_log_prob(arr(backend, np.log([[0.2, 0.3, 0.5]])), x, tau)


def test_numpy_scalar_tau_on_any_backend(backend):
    x = arr(backend, [[0.0, 1.0, 2.0]])
    a = back(gx.gumbel_log_softmax(x, np.float32(0.5), rng=gx.PortableRNG(1)))
    b = back(gx.gumbel_log_softmax(x, 0.5, rng=gx.PortableRNG(1)))
    np.testing.assert_array_equal(a, b)
