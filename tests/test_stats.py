"""The law of the samples, checked statistically on every backend with fixed
seeds. Each threshold (p > 1e-4, or 5 standard errors) is one a correct
sampler fails with probability about 1e-4 or less; the references are
closed forms or SciPy, never gumbelxp."""

import math

import numpy as np
import pytest
from gumbelxp.conformance.support import float_dtypes, from_numpy, to_numpy
from scipy import integrate, special, stats

import gumbelxp as gx

P_MIN = 1e-4
N = 200_000
EULER = 0.5772156649015329


def softmax(logits):
    e = np.exp(np.asarray(logits, dtype=np.float64) - np.max(logits))
    return e / e.sum()


def batch(be, logits, n=N, dtype="float32"):
    return from_numpy(be, np.broadcast_to(np.asarray(logits, dtype=np.float64),
                                          (n, len(logits))), dtype)


def chi2_p(counts, probs):
    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    keep = probs > 0
    assert counts[~keep].sum() == 0, "a zero-probability category was drawn"
    return stats.chisquare(counts[keep], counts.sum() * probs[keep]).pvalue


def pool(counts, probs, n, min_expected=10.0):
    """Merge neighbouring bins until each expects at least ``min_expected``
    samples (the chi-square approximation needs it)."""
    c_out, p_out, c_acc, p_acc = [], [], 0, 0.0
    for c, p in zip(counts, probs, strict=True):
        c_acc, p_acc = c_acc + c, p_acc + p
        if p_acc * n >= min_expected:
            c_out.append(c_acc)
            p_out.append(p_acc)
            c_acc, p_acc = 0, 0.0
    if p_acc > 0 or c_acc:
        c_out[-1] += c_acc
        p_out[-1] += p_acc
    return np.array(c_out), np.array(p_out)


@pytest.mark.parametrize("logits", [[1.0, 2.0, 3.0, 4.0], [0.0, -np.inf, 0.5, -2.0, 1.0]],
                         ids=["seed-example", "masked"])
def test_gumbel_max_frequencies_are_softmax(backend, logits):
    p = softmax(logits)
    # PortableRNG on fewer draws: its Philox runs op by op (slow on JAX's CPU)
    for n, rng in ((N, 0), (N // 4, gx.PortableRNG(1))):
        idx = to_numpy(gx.gumbel_max(batch(backend, logits, n), rng=rng)).astype(np.int64)
        assert chi2_p(np.bincount(idx, minlength=len(logits)), p) > P_MIN
    # along axis 0
    xt = from_numpy(backend, np.broadcast_to(np.asarray(logits)[:, None], (len(logits), N)),
                    "float32")
    idx = to_numpy(gx.gumbel_max(xt, axis=0, rng=2)).astype(np.int64)
    assert chi2_p(np.bincount(idx, minlength=len(logits)), p) > P_MIN


def test_hard_gumbel_softmax_argmax_is_softmax_for_any_tau(backend):
    logits = [1.0, 2.0, 3.0, 4.0]
    x = batch(backend, logits, 100_000)
    for tau in (0.3, 3.0):
        y = to_numpy(gx.gumbel_softmax(x, tau, hard=True, rng=3))
        assert chi2_p(y.sum(axis=0), softmax(logits)) > P_MIN


def test_gumbel_topk_first_and_second_draws(backend):
    logits = np.array([0.5, 2.0, -1.0, 1.0])
    p = softmax(logits)
    # sequential sampling without replacement: P(second = j) = sum_i p_i p_j / (1 - p_i)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j)
                       for j in range(4)])
    assert math.isclose(second.sum(), 1.0)
    idx = to_numpy(gx.gumbel_topk(batch(backend, logits), 2, rng=4)).astype(np.int64)
    assert chi2_p(np.bincount(idx[:, 0], minlength=4), p) > P_MIN
    assert chi2_p(np.bincount(idx[:, 1], minlength=4), second) > P_MIN
    # pairs: P(i then j) = p_i p_j / (1 - p_i)
    pair = np.array([[p[i] * p[j] / (1 - p[i]) if i != j else 0.0 for j in range(4)]
                     for i in range(4)])
    counts = np.bincount(idx[:, 0] * 4 + idx[:, 1], minlength=16)
    assert chi2_p(counts, pair.ravel()) > P_MIN


@pytest.mark.parametrize("loc, scale", [(0.0, 1.0), (2.0, 0.5), (-1.0, 3.0)])
def test_noise_moments_and_law(backend, loc, scale):
    n = 1_000_000
    like = from_numpy(backend, np.zeros(1), "float32")
    dtypes = [d for d in float_dtypes(backend) if d in ("float32", "float64")]
    for dt, rng in [(d, 5) for d in dtypes] + [("float32", gx.PortableRNG(6))]:
        g = gx.gumbel((n,), xp=backend.name, dtype=getattr(backend.namespace, dt),
                      loc=loc, scale=scale, rng=rng)
        assert type(g) is type(like)
        g = to_numpy(g).astype(np.float64)
        mean, var = loc + EULER * scale, math.pi**2 / 6 * scale**2
        # standard errors: sd/sqrt(n) for the mean; var * sqrt((kurtosis - 1)/n),
        # Gumbel kurtosis 5.4, for the variance
        assert abs(g.mean() - mean) < 5 * math.sqrt(var / n), (dt, g.mean(), mean)
        assert abs(g.var() - var) < 5 * var * math.sqrt(4.4 / n), (dt, g.var(), var)
        assert stats.kstest(g[:100_000], stats.gumbel_r(loc, scale).cdf).pvalue > P_MIN


def logistic_sigmoid_mean(a, tau):
    """E[sigmoid((a + L) / tau)] with L ~ Logistic(0, 1): the mean of the first
    coordinate of a 2-category Gumbel-Softmax sample (g1 - g2 is logistic)."""
    f = lambda t: special.expit((a + t) / tau) * stats.logistic.pdf(t)  # noqa: E731
    return integrate.quad(f, -np.inf, np.inf, epsabs=1e-12)[0]


@pytest.mark.parametrize("tau", [1.0, 0.5, 4.0])
def test_gumbel_softmax_mean_two_categories(backend, tau):
    a = 0.8
    y = to_numpy(gx.gumbel_softmax(batch(backend, [a, 0.0]), tau, rng=8)).astype(np.float64)
    want = logistic_sigmoid_mean(a, tau)
    se = y[:, 0].std() / math.sqrt(len(y))
    assert abs(y[:, 0].mean() - want) < 5 * se, (y[:, 0].mean(), want)
    # the mean is not softmax(logits) (except as tau -> 0): the test can tell
    assert abs(want - softmax([a, 0.0])[0]) > 10 * se or tau != 1.0


def test_gumbel_softmax_mean_four_categories(backend):
    """tau = 1, logits [1, 2, 3, 4]: against an independent NumPy Monte Carlo."""
    logits = np.array([1.0, 2.0, 3.0, 4.0])
    r = np.random.default_rng(12345)
    s = logits + r.gumbel(size=(N, 4))
    ref = np.exp(s - s.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    y = to_numpy(gx.gumbel_softmax(batch(backend, logits), 1.0, rng=9)).astype(np.float64)
    se = np.sqrt(y.var(0) / N + ref.var(0) / N)
    assert (np.abs(y.mean(0) - ref.mean(0)) < 5 * se).all(), (y.mean(0), ref.mean(0))


@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_samples_follow_relaxed_log_prob(backend, tau):
    """Two categories: the histogram of y0 from gumbel_softmax against the
    bin masses of exp(relaxed_log_prob), integrated on a fine grid in
    t = logit(y0) (dy0 = y0 (1 - y0) dt)."""
    logits = np.array([0.7, -0.3])
    y = to_numpy(gx.gumbel_softmax(batch(backend, logits), tau, rng=10)).astype(np.float64)
    t_edges = np.concatenate([[-60.0], np.linspace(-6, 6, 25), [60.0]])
    counts = np.histogram(special.logit(y[:, 0]), bins=t_edges)[0]
    masses = []
    for lo, hi in zip(t_edges[:-1], t_edges[1:], strict=True):
        t = np.linspace(lo, hi, 2001)
        y0, y1 = special.expit(t), special.expit(-t)  # y1 = 1 - y0, without cancellation
        pts = np.stack([y0, y1], axis=-1)
        lp = gx.relaxed_log_prob(pts, np.broadcast_to(logits, pts.shape), tau)
        masses.append(np.trapezoid(np.exp(lp) * y0 * y1, t))
    masses = np.array(masses)
    assert abs(masses.sum() - 1.0) < 1e-4  # it is a density (trapezoid error ~1e-6)
    c, m = pool(counts, masses / masses.sum(), len(y))
    assert len(c) >= 15
    assert chi2_p(c, m) > P_MIN
