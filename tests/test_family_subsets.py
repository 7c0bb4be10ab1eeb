"""relaxed_topk, plackett_luce_log_prob and conditional_gumbel on every
backend: against NumPy float64 transcriptions of Xie and Ermon's Algorithm 1,
TensorFlow Probability's PlackettLuce, brute-force enumeration, the
top-down construction of Maddison et al. (2014) and rejection sampling;
gradients against central differences of the float64 references."""

import itertools
import math

import numpy as np
import pytest
from _family_support import NEG, P_MIN, arr, back, best, tfd, tol
from gumbelxp.conformance import checks as C
from gumbelxp.conformance import reference_family as R
from gumbelxp.conformance.support import (
    dtype_name,
    from_numpy,
    to_numpy,
)
from scipy import stats

import gumbelxp as gx


def ints(be, a):
    return from_numpy(be, np.asarray(a, dtype=np.int64))


def chi2_p(counts, probs):
    counts, probs = np.asarray(counts, np.float64), np.asarray(probs, np.float64)
    keep = probs > 0
    assert counts[~keep].sum() == 0, "a zero-probability outcome was drawn"
    return stats.chisquare(counts[keep], counts.sum() * probs[keep] / probs[keep].sum()).pvalue


def central_diff(f, x, h=1e-6):
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    for j in np.ndindex(*x.shape):
        if not np.isfinite(x[j]):
            continue
        p, m = x.copy(), x.copy()
        p[j] += h
        m[j] -= h
        out[j] = (f(p) - f(m)).sum() / (2 * h)
    return out


# ---------------------------------------------------------------------------
# relaxed_topk
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 4, 6])
@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5, "slice"])
def test_relaxed_topk_matches_algorithm_1(backend, k, tau):
    r = np.random.default_rng(k)
    logits, g = r.normal(0, 1.5, (4, 6)), r.gumbel(size=(4, 6))
    for dt in ("float32", best(backend)):
        x, gn = arr(backend, logits, dt), arr(backend, g, dt)
        t = arr(backend, [0.3, 0.7, 1.5, 3.0], dt) if tau == "slice" else tau
        tr = back(t) if tau == "slice" else tau
        y = gx.relaxed_topk(x, k, t, noise=gn)
        assert dtype_name(y) == dt and tuple(y.shape) == (4, 6)
        yn = back(y)
        np.testing.assert_allclose(yn, R.relaxed_topk_ref(back(x), back(gn), k, tr),
                                   **tol(dt, 20))
        np.testing.assert_allclose(yn.sum(-1), k, **tol(dt, 20))
        assert (yn >= 0).all()


def test_relaxed_topk_axis0(backend):
    r = np.random.default_rng(3)
    logits, g = r.normal(size=(6, 3)), r.gumbel(size=(6, 3))
    dt = best(backend)
    y = back(gx.relaxed_topk(arr(backend, logits, dt), 3, 0.5, axis=0,
                             noise=arr(backend, g, dt)))
    np.testing.assert_allclose(y, R.relaxed_topk_ref(logits, g, 3, 0.5, axis=0), **tol(dt, 20))


def test_relaxed_topk_tends_to_gumbel_topk_and_hard_is_its_k_hot(backend):
    r = np.random.default_rng(4)
    logits = r.normal(size=(50, 8))
    logits[::7, 2] = NEG
    x = arr(backend, logits, "float32")
    for k in (1, 3, 5):
        rng_state = gx.PortableRNG(10 + k)
        idx = to_numpy(gx.gumbel_topk(x, k, rng=gx.PortableRNG(10 + k)))
        want = R.k_hot(idx, 8)
        hard = back(gx.relaxed_topk(x, k, 0.5, hard=True, rng=rng_state))
        np.testing.assert_array_equal(hard, want)
        for tau in (1e-2, 1e-4, 1e-8):
            soft = back(gx.relaxed_topk(x, k, tau, rng=gx.PortableRNG(10 + k)))
            assert np.isfinite(soft).all()
            assert (soft[np.isneginf(logits)] == 0).all()
            # every row within 1e-3 of the k-hot once tau is small against the gaps
            err = np.abs(soft - want).max(-1)
            assert np.median(err) < (1e-3 if tau < 1e-3 else 0.1), (tau, np.median(err))
            if tau <= 1e-4:
                assert (err < 1e-3).mean() > 0.95


def test_relaxed_topk_fewer_unmasked_than_k(backend):
    x = arr(backend, [[0.0, NEG, 1.0, NEG], [NEG, 2.0, NEG, NEG]], best(backend))
    for tau in (1e-3, 1.0):
        y = back(gx.relaxed_topk(x, 3, tau, rng=gx.PortableRNG(0)))
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y.sum(-1), 3.0, rtol=1e-5)
        assert (y[np.isneginf(back(x))] == 0).all()
        assert y[1, 1] == pytest.approx(3.0)


@pytest.mark.parametrize("hard", [False, True])
def test_relaxed_topk_gradient(ad, hard):
    r = np.random.default_rng(5)
    logits, g, cot = r.normal(size=(3, 5)), r.gumbel(size=(3, 5)), r.normal(size=(3, 5))
    logits[1, 3] = NEG
    dt = best(ad)
    x, gn, c = arr(ad, logits, dt), arr(ad, g, dt), arr(ad, cot, dt)
    taus = arr(ad, [0.4, 1.0, 2.0], dt)
    _, (gl, gt) = ad.vjp(lambda a, t: gx.relaxed_topk(a, 3, t, hard=hard, noise=gn), (x, taus), c)
    lg, gg, cc, tt = back(x), back(gn), back(c), back(taus)
    want_l = central_diff(lambda v: cc * R.relaxed_topk_ref(v, gg, 3, tt), lg)
    want_t = central_diff(lambda v: (cc * R.relaxed_topk_ref(lg, gg, 3, v)).sum(-1), tt)
    rt = 1e-5 if dt == "float64" else 2e-3
    assert np.isfinite(back(gl)).all() and back(gl)[1, 3] == 0
    np.testing.assert_allclose(back(gl), want_l, rtol=rt, atol=rt)
    np.testing.assert_allclose(back(gt), want_t, rtol=rt, atol=rt)


def test_relaxed_topk_gradient_finite_at_tiny_tau(ad):
    x = arr(ad, [[0.1, -0.3, NEG, 2.0, 0.5]] * 4, "float32")
    c = arr(ad, np.arange(20.0).reshape(4, 5), "float32")
    for tau in (1e-3, 1e-7):
        _, (g,) = ad.vjp(lambda a, tau=tau: gx.relaxed_topk(a, 2, tau, rng=gx.PortableRNG(1)),
                         (x,), c)
        assert np.isfinite(back(g)).all()


def test_relaxed_topk_bad_k(backend):
    x = arr(backend, np.zeros((2, 4)))
    for k in (0, 5, -1):
        with pytest.raises(ValueError):
            gx.relaxed_topk(x, k, rng=0)
    with pytest.raises(TypeError):
        gx.relaxed_topk(x, 1.5, rng=0)


# ---------------------------------------------------------------------------
# plackett_luce_log_prob
# ---------------------------------------------------------------------------
def test_plackett_luce_matches_tfp_for_full_permutations(backend):
    r = np.random.default_rng(6)
    logits = r.normal(0, 2, (8, 5))
    perms = np.stack([r.permutation(5) for _ in range(8)])
    want = tfd().PlackettLuce(scores=np.exp(logits)).log_prob(perms)
    np.testing.assert_allclose([R.plackett_luce_ref(p, lg) for p, lg in
                                zip(perms, logits, strict=True)], want, rtol=1e-10)
    for dt in ("float32", best(backend)):
        got = gx.plackett_luce_log_prob(ints(backend, perms), arr(backend, logits, dt))
        assert dtype_name(got) == dt and tuple(got.shape) == (8,)
        np.testing.assert_allclose(back(got), want, **tol(dt, 20))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_plackett_luce_partial_orders_by_enumeration(backend, k):
    """k < n: every ordered k-tuple against the sequential definition; the
    probabilities of all tuples sum to 1."""
    logits = np.array([0.3, -1.2, 2.0, 0.0])
    tuples = list(itertools.permutations(range(4), k))
    brute = R.plackett_luce_brute(logits, k)
    dt = best(backend)
    got = back(gx.plackett_luce_log_prob(ints(backend, tuples), arr(backend, logits, dt)))
    np.testing.assert_allclose(np.exp(got), [brute[t] for t in tuples], **tol(dt, 20))
    assert math.isclose(np.exp(got).sum(), 1.0, rel_tol=1e-5)


def test_plackett_luce_is_the_law_of_gumbel_topk(backend):
    logits = np.array([0.5, 2.0, -1.0, 1.0])
    n = 100_000
    idx = to_numpy(gx.gumbel_topk(arr(backend, np.broadcast_to(logits, (n, 4))), 2, rng=7))
    counts = np.bincount(idx[:, 0] * 4 + idx[:, 1], minlength=16)
    pairs = [(i, j) for i in range(4) for j in range(4)]
    valid = np.array([i != j for i, j in pairs])
    lp = back(gx.plackett_luce_log_prob(ints(backend, [p for p, v in zip(pairs, valid,
                                                                          strict=True) if v]),
                                        arr(backend, logits, best(backend))))
    probs = np.zeros(16)
    probs[valid] = np.exp(lp)
    assert chi2_p(counts, probs) > P_MIN


def test_plackett_luce_small_late_probabilities(backend):
    """Drawing the dominant category first: later steps' probabilities are
    accurate even where 1 - p_dominant underflows in float32."""
    logits = np.array([40.0, 0.0, -1.0, 1.0])
    order = np.array([0, 3, 1, 2])
    want = R.plackett_luce_ref(order, logits)  # float64, direct
    # exact: log(1 / (1 + e^-40 + ...)) + [1 - lse(0, -1, 1)] + [0 - lse(0, -1)]
    exact = (-np.log1p(np.exp(-40) * (1 + np.exp(-1) + np.e)) + 1 - np.log(1 + np.exp(-1) + np.e)
             - np.log1p(np.exp(-1)))
    assert want == pytest.approx(exact, rel=1e-12)
    got = back(gx.plackett_luce_log_prob(ints(backend, order), arr(backend, logits, "float32")))
    assert got == pytest.approx(exact, rel=1e-5)


def test_plackett_luce_masked_and_broadcast(backend):
    logits = np.array([[0.0, NEG, 1.0, 0.5]])
    dt = best(backend)
    got = back(gx.plackett_luce_log_prob(ints(backend, [[2, 0], [1, 0], [0, 3]]),
                                         arr(backend, logits, dt)))
    assert got[1] == -np.inf
    want = [R.plackett_luce_ref(o, logits[0]) for o in ([2, 0], [0, 3])]
    np.testing.assert_allclose(got[[0, 2]], want, **tol(dt, 20))
    # axis 0: indices (k, batch) against logits (n, 1)
    got0 = back(gx.plackett_luce_log_prob(ints(backend, [[2, 0], [0, 3]]),
                                          arr(backend, logits.T, dt), axis=0))
    np.testing.assert_allclose(got0, [R.plackett_luce_ref([2, 0], logits[0]),
                                      R.plackett_luce_ref([0, 3], logits[0])], **tol(dt, 20))


def test_plackett_luce_invalid_indices(backend):
    x = arr(backend, np.zeros((3, 4)))
    idx = ints(backend, [[0, 1], [2, 2], [0, 4]])
    got = back(gx.plackett_luce_log_prob(idx, x))
    assert np.isfinite(got[0]) and np.isnan(got[1]) and np.isnan(got[2])
    with pytest.raises(ValueError, match=r"indices\[1, :\]"):
        gx.plackett_luce_log_prob(idx, x, validate=True)
    with pytest.raises(ValueError, match=r"indices\[2, :\]"):
        gx.plackett_luce_log_prob(ints(backend, [[0, 1], [2, 3], [-1, 0]]), x, validate=True)
    with pytest.raises(TypeError):
        gx.plackett_luce_log_prob(arr(backend, [[0.0, 1.0]] * 3), x)
    with pytest.raises(ValueError):
        gx.plackett_luce_log_prob(ints(backend, [[0, 1, 2, 3, 0]] * 3), x)


def test_plackett_luce_gradient(ad):
    r = np.random.default_rng(8)
    logits = r.normal(size=(3, 5))
    logits[2, 4] = NEG
    order = np.array([[4, 1, 0], [2, 3, 1], [0, 1, 3]])
    dt = best(ad)
    x = arr(ad, logits, dt)
    c = np.array([1.0, -0.5, 2.0])
    _, (g,) = ad.vjp(lambda a: gx.plackett_luce_log_prob(ints(ad, order), a), (x,),
                     arr(ad, c, dt))

    def f(v):
        return c * np.array([R.plackett_luce_ref(o, lg) for o, lg in zip(order, v, strict=True)])

    want = central_diff(f, back(x))
    rt = 1e-6 if dt == "float64" else 2e-3
    got = back(g)
    assert np.isfinite(got).all() and got[2, 4] == 0
    np.testing.assert_allclose(got, want, rtol=rt, atol=rt)


# ---------------------------------------------------------------------------
# conditional_gumbel
# ---------------------------------------------------------------------------
def test_conditional_gumbel_matches_top_down_construction(backend):
    """PortableRNG noise: the reference's formula on the same standard Gumbel
    noise (the words of the conformance suite's pure-Python Philox)."""
    r = np.random.default_rng(9)
    logits = r.normal(0, 2, (5, 6))
    logits[1, 2] = NEG
    index = np.array([0, 3, 5, 1, 2])
    for dt in ("float32", best(backend)):
        x = arr(backend, logits, dt)
        z = back(gx.conditional_gumbel(x, ints(backend, index), rng=gx.PortableRNG(3)))
        g = C.noise_ref(3, (5, 6), dt)
        want = R.conditional_gumbel_ref(back(x), index, g)
        np.testing.assert_allclose(z, want, **tol(dt, 20))
        assert (z.argmax(-1) == index).all()


def test_conditional_gumbel_argmax_is_index_always(backend):
    """Large batches, float32, logits far apart (where rounding could tie the
    truncated entries with the maximum): the argmax is the index, always."""
    r = np.random.default_rng(10)
    n = 20_000
    logits = np.broadcast_to([0.0, -30.0, 5.0, 12.0, -1e-3], (n, 5))
    index = r.integers(0, 5, n)
    for rng in (1, gx.PortableRNG(2)):
        z = back(gx.conditional_gumbel(arr(backend, logits), ints(backend, index), rng=rng))
        assert np.isfinite(z).all()
        assert (z.argmax(-1) == index).all()
        others = np.where(np.arange(5) == index[:, None], -np.inf, z).max(-1)
        assert (others < z.max(-1)).all()  # strictly below: no ties


def test_conditional_gumbel_axis0_and_mask(backend):
    logits = np.array([[0.0, 1.0], [NEG, 2.0], [1.0, NEG]])  # categories along axis 0
    z = back(gx.conditional_gumbel(arr(backend, logits), ints(backend, [2, 1]), axis=0,
                                   rng=gx.PortableRNG(4)))
    assert (z.argmax(0) == [2, 1]).all()
    assert z[1, 0] == -np.inf and z[2, 1] == -np.inf
    # an index pointing at a masked category, or out of range: that slice is NaN
    bad = back(gx.conditional_gumbel(arr(backend, logits), ints(backend, [1, 5]), axis=0,
                                     rng=gx.PortableRNG(4)))
    assert np.isnan(bad).all()
    with pytest.raises(TypeError):
        gx.conditional_gumbel(arr(backend, logits), arr(backend, [1.0, 0.0]), axis=0, rng=0)
    with pytest.raises(ValueError):
        gx.conditional_gumbel(arr(backend, logits), ints(backend, [[1, 0]]), axis=0, rng=0)


@pytest.mark.parametrize("index", [0, 2])
def test_conditional_gumbel_law_is_the_conditional_law(backend, index):
    """Against rejection sampling: unconditional logits + g (NumPy's own
    generator) kept where the argmax is ``index``; two-sample KS per
    coordinate. The maximum is also Gumbel(logsumexp(logits)) exactly (KS)."""
    logits = np.array([0.5, -0.5, 1.0])
    n = 30_000
    r = np.random.default_rng(11)
    u = logits + r.gumbel(size=(8 * n, 3))
    ref = u[u.argmax(-1) == index][:n]
    z = back(gx.conditional_gumbel(arr(backend, np.broadcast_to(logits, (n, 3)), best(backend)),
                                   ints(backend, np.full(n, index)), rng=12))
    for j in range(3):
        assert stats.ks_2samp(z[:, j], ref[:, j]).pvalue > P_MIN, j
    lse = np.log(np.exp(logits).sum())
    assert stats.kstest(z[:, index], stats.gumbel_r(lse).cdf).pvalue > P_MIN
    # the pairwise differences too (a joint check)
    assert stats.ks_2samp(z[:, 0] - z[:, 1], ref[:, 0] - ref[:, 1]).pvalue > P_MIN


def test_conditional_gumbel_gradient(ad):
    """The reparameterisation gradient for fixed noise: against central
    differences of the reference formula (PortableRNG noise)."""
    logits = np.array([[0.2, -0.4, 1.1, 0.0], [1.0, 0.5, NEG, -2.0]])
    index = np.array([1, 0])
    dt = best(ad)
    x = arr(ad, logits, dt)
    c = np.arange(8.0).reshape(2, 4) / 8 - 0.3
    _, (g,) = ad.vjp(lambda a: gx.conditional_gumbel(a, ints(ad, index), rng=gx.PortableRNG(5)),
                     (x,), arr(ad, c, dt))
    noise = C.noise_ref(5, (2, 4), dt)
    want = central_diff(lambda v: np.nan_to_num(c * R.conditional_gumbel_ref(v, index, noise)),
                        back(x))
    rt = 1e-6 if dt == "float64" else 2e-3
    got = back(g)
    assert np.isfinite(got).all() and got[1, 2] == 0
    np.testing.assert_allclose(got, want, rtol=rt, atol=rt)
