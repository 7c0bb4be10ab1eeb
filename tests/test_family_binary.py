"""gumbel_sigmoid and relaxed_bernoulli_log_prob (the binary Concrete) on
every backend: against NumPy formulas given the same noise, PyTorch's
RelaxedBernoulli, the binary Concrete density of Maddison et al. (2017,
eq. 21) and its integral; the law of the samples (z-tests, KS) with fixed
seeds; exact 0/1 at +-inf logits; gradients against the analytic ones."""

import math

import numpy as np
import pytest
from _family_support import P_MIN, arr, back, best, tol
from gumbelxp.conformance import checks as C
from gumbelxp.conformance import reference_family as R
from gumbelxp.conformance.support import (
    dtype_name,
    float_dtypes,
)
from scipy import integrate, special, stats

import gumbelxp as gx


# ---------------------------------------------------------------------------
# gumbel_sigmoid
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [1.0, 0.25, 3.0, "array"])
def test_gumbel_sigmoid_matches_formula_given_noise(backend, tau):
    r = np.random.default_rng(1)
    logits = r.normal(0, 2, (5, 7))
    noise = stats.logistic.rvs(size=(5, 7), random_state=r)
    for dt in float_dtypes(backend):
        x, ln = arr(backend, logits, dt), arr(backend, noise, dt)
        t = arr(backend, r.uniform(0.3, 2.0, (5, 7)), dt) if tau == "array" else tau
        tr = back(t) if tau == "array" else tau
        y = gx.gumbel_sigmoid(x, t, noise=ln)
        assert dtype_name(y) == dt and tuple(y.shape) == (5, 7)
        np.testing.assert_allclose(back(y), R.gumbel_sigmoid_ref(back(x), back(ln), tr),
                                   **tol(dt, 4))
        h = back(gx.gumbel_sigmoid(x, t, hard=True, noise=ln))
        assert set(np.unique(h).tolist()) <= {0.0, 1.0}
        s = back(x) + back(ln)
        np.testing.assert_array_equal(h, (s > 0).astype(np.float64))


def test_gumbel_sigmoid_portable_rng_is_the_same_everywhere(backend):
    """PortableRNG(seed): the logistic noise is log(u) - log(1 - u) of
    PortableRNG.uniform, the same words on every backend."""
    seed, shape = 11, (4, 9)
    logits = np.random.default_rng(2).normal(size=shape)
    for dt in ("float32", best(backend)):
        x = arr(backend, logits, dt)
        y = gx.gumbel_sigmoid(x, 0.5, rng=gx.PortableRNG(seed))
        noise = R.logistic_from_uniform(C.uniform_ref(seed, shape, dt))
        np.testing.assert_allclose(back(y), R.gumbel_sigmoid_ref(back(x), noise, 0.5),
                                   **tol(dt, 10))
        rng = gx.PortableRNG(seed)
        gx.gumbel_sigmoid(x, 0.5, hard=True, rng=rng)
        assert rng.counter == math.prod(shape) * (2 if dt == "float64" else 1)


@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_gumbel_sigmoid_law(backend, tau):
    """P(hard = 1) = sigmoid(logits) (z-test); the soft sample's CDF is
    F(y) = sigmoid(tau logit(y) - logits) (KS), for an int seed and PortableRNG."""
    logits = np.array([-1.5, 0.0, 0.7, 2.5])
    n = 50_000
    x = arr(backend, np.broadcast_to(logits, (n, 4)), "float32")
    for rng in (3, gx.PortableRNG(4)):
        h = back(gx.gumbel_sigmoid(x, tau, hard=True, rng=rng))
        p = special.expit(logits)
        z = (h.mean(0) - p) / np.sqrt(p * (1 - p) / n)
        assert (np.abs(z) < 4.5).all(), z
    y = back(gx.gumbel_sigmoid(x, tau, rng=5))
    for j, a in enumerate(logits):
        cdf = lambda v, a=a: special.expit(tau * special.logit(v) - a)  # noqa: E731
        assert stats.kstest(y[:20_000, j], cdf).pvalue > P_MIN


def test_gumbel_sigmoid_infinite_logits_are_exact(backend):
    x = arr(backend, [[-np.inf, np.inf, 0.0, -np.inf]] * 3, best(backend))
    for tau in (1e-3, 1.0, 5.0):
        for hard in (False, True):
            y = back(gx.gumbel_sigmoid(x, tau, hard=hard, rng=gx.PortableRNG(1)))
            assert (y[:, 0] == 0).all() and (y[:, 1] == 1).all() and (y[:, 3] == 0).all()
            assert np.isfinite(y).all()


def test_gumbel_sigmoid_half_precision(backend):
    for dt in float_dtypes(backend):
        if dt in ("float16", "bfloat16"):
            x = arr(backend, np.linspace(-4, 4, 64), dt)
            for tau in (1e-3, 1.0):
                y = gx.gumbel_sigmoid(x, tau, rng=gx.PortableRNG(0))
                assert dtype_name(y) == dt
                v = back(y)
                assert np.isfinite(v).all() and (v >= 0).all() and (v <= 1).all()


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_sigmoid_gradient(ad, hard):
    r = np.random.default_rng(6)
    logits = r.normal(size=(3, 4))
    logits[0, 0] = -np.inf
    logits[1, 2] = np.inf
    noise = stats.logistic.rvs(size=(3, 4), random_state=r)
    cot = r.normal(size=(3, 4))
    dt = best(ad)
    x, ln, c = arr(ad, logits, dt), arr(ad, noise, dt), arr(ad, cot, dt)
    t = arr(ad, r.uniform(0.5, 2.0, (3, 4)), dt)
    _, (gl, gt) = ad.vjp(lambda a, b: gx.gumbel_sigmoid(a, b, hard=hard, noise=ln), (x, t), c)
    lg, nn, cc, tt = back(x), back(ln), back(c), back(t)
    s = lg + nn
    y = R.gumbel_sigmoid_ref(lg, nn, tt)
    want_l = cc * y * (1 - y) / tt
    want_t = -cc * y * (1 - y) * s / tt**2
    fin = np.isfinite(lg)
    want_l[~fin] = 0.0
    want_t[~fin] = 0.0
    np.testing.assert_allclose(back(gl), want_l, **tol(dt, 100))
    np.testing.assert_allclose(back(gt), want_t, **tol(dt, 100))


# ---------------------------------------------------------------------------
# relaxed_bernoulli_log_prob
# ---------------------------------------------------------------------------
def torch_relaxed_bernoulli(y, logits, tau):
    torch = pytest.importorskip("torch")
    d = torch.distributions.RelaxedBernoulli(torch.as_tensor(tau, dtype=torch.float64),
                                             logits=torch.as_tensor(logits, dtype=torch.float64))
    return d.log_prob(torch.as_tensor(y, dtype=torch.float64)).numpy()


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0, "array"])
def test_relaxed_bernoulli_log_prob_matches_torch(backend, tau):
    r = np.random.default_rng(7)
    logits = r.normal(0, 2, (6, 5))
    y = r.uniform(0.01, 0.99, (6, 5))
    t = r.uniform(0.2, 3.0, (6, 5)) if tau == "array" else tau
    want = torch_relaxed_bernoulli(y, logits, t)
    np.testing.assert_allclose(R.relaxed_bernoulli_log_prob_ref(y, logits, t), want,
                               rtol=1e-10, atol=1e-10)
    for dt in ("float32", best(backend)):
        tb = arr(backend, t, dt) if tau == "array" else t
        got = gx.relaxed_bernoulli_log_prob(arr(backend, y, dt), arr(backend, logits, dt), tb)
        assert dtype_name(got) == dt
        np.testing.assert_allclose(back(got), want, **tol(dt, 50))


def test_relaxed_bernoulli_log_prob_broadcasts(backend):
    logits = np.array([-1.0, 0.0, 2.0])
    y = np.random.default_rng(8).uniform(0.05, 0.95, (10, 3))
    dt = best(backend)
    got = back(gx.relaxed_bernoulli_log_prob(arr(backend, y, dt), arr(backend, logits, dt), 0.6))
    assert got.shape == (10, 3)
    np.testing.assert_allclose(got, torch_relaxed_bernoulli(y, logits, 0.6), **tol(dt, 50))


@pytest.mark.parametrize("logit, tau", [(0.0, 1.0), (1.5, 0.3), (-2.0, 2.0), (4.0, 0.1)])
def test_relaxed_bernoulli_density_integrates_to_its_law(logit, tau):
    """The density, integrated over y in [expit(a), expit(b)] (in t = logit(y),
    dy = y(1-y) dt), is the mass the law gives there: P(logit(Y) <= t) =
    sigmoid(tau t - logit); a, b = -+15 keep 1 - y accurate in float64."""
    def f(t):
        y = special.expit(t)
        lp = gx.relaxed_bernoulli_log_prob(np.array(y), np.array(logit), tau)
        return float(np.exp(lp)) * y * special.expit(-t)

    a, b = -15.0, 15.0
    total = integrate.quad(f, a, b, points=[logit / tau], limit=400, epsabs=1e-12)[0]
    want = special.expit(tau * b - logit) - special.expit(tau * a - logit)
    assert abs(total - want) < 1e-8


def test_relaxed_bernoulli_log_prob_at_the_extremes(backend):
    """Near 0 and 1 (where torch clamps y to [tiny, 1 - eps]): against the
    float64 closed form; finite; -inf at a -inf logit."""
    dt = best(backend)
    y = np.array([1e-30, 1e-8, 0.5, 1 - 1e-7]) if dt == "float64" else np.array(
        [1e-30, 1e-6, 0.5, 1 - 2**-20])
    logits = np.array([0.3, -1.0, 2.0, 0.5])
    got = back(gx.relaxed_bernoulli_log_prob(arr(backend, y, dt), arr(backend, logits, dt), 0.7))
    yb = back(arr(backend, y, dt))
    np.testing.assert_allclose(got, R.relaxed_bernoulli_log_prob_ref(yb, logits, 0.7),
                               rtol=1e-10 if dt == "float64" else 1e-5)
    assert np.isfinite(got).all()
    m = back(gx.relaxed_bernoulli_log_prob(arr(backend, [0.3, 0.6], dt),
                                           arr(backend, [-np.inf, 0.0], dt), 0.7))
    assert m[0] == -np.inf and np.isfinite(m[1])


def test_relaxed_bernoulli_log_prob_gradient(ad):
    r = np.random.default_rng(9)
    logits, y = r.normal(size=(2, 3)), r.uniform(0.1, 0.9, (2, 3))
    taus = r.uniform(0.5, 2.0, (2, 3))
    dt = best(ad)
    args = tuple(arr(ad, a, dt) for a in (y, logits, taus))
    cot = np.ones((2, 3))
    _, grads = ad.vjp(lambda a, b, t: gx.relaxed_bernoulli_log_prob(a, b, t), args,
                      arr(ad, cot, dt))
    h = 1e-6
    for i, g in enumerate(grads):
        base = [back(a) for a in args]
        fd = np.zeros((2, 3))
        for j in np.ndindex(2, 3):
            p, m = [b.copy() for b in base], [b.copy() for b in base]
            p[i][j] += h
            m[i][j] -= h
            fd[j] = (R.relaxed_bernoulli_log_prob_ref(*p)[j]
                     - R.relaxed_bernoulli_log_prob_ref(*m)[j]) / (2 * h)
        np.testing.assert_allclose(back(g), fd, rtol=1e-6 if dt == "float64" else 2e-3,
                                   atol=1e-6 if dt == "float64" else 2e-3)


def test_relaxed_bernoulli_validate(backend):
    x = arr(backend, np.zeros((2, 3)))
    gx.relaxed_bernoulli_log_prob(arr(backend, np.full((2, 3), 0.5)), x, 1.0, validate=True)
    bad = np.full((2, 3), 0.5)
    bad[1, 2] = 1.0
    with pytest.raises(ValueError, match=r"y\[1, 2\]"):
        gx.relaxed_bernoulli_log_prob(arr(backend, bad), x, 1.0, validate=True)
    bad[1, 2], bad[0, 1] = 0.5, 0.0
    with pytest.raises(ValueError, match=r"y\[0, 1\]"):
        gx.relaxed_bernoulli_log_prob(arr(backend, bad), x, 1.0, validate=True)
    with pytest.raises(ValueError, match=r"logits\[1, 0\]"):
        gx.gumbel_sigmoid(arr(backend, [[0.0, 1.0, 2.0], [np.nan, 0.0, 0.0]]), rng=0,
                          validate=True)
    with pytest.raises(ValueError):
        gx.gumbel_sigmoid(x, arr(backend, [[1.0, 0.0, 1.0]] * 2), rng=0, validate=True)


@pytest.mark.parametrize("tau", [0.0, -1.0, math.inf, math.nan, np.float32(-1.0)])
def test_bad_tau(backend, tau):
    x = arr(backend, [0.0, 1.0])
    with pytest.raises(ValueError):
        gx.gumbel_sigmoid(x, tau, rng=0)
    with pytest.raises(ValueError):
        gx.relaxed_bernoulli_log_prob(arr(backend, [0.2, 0.3]), x, tau)
