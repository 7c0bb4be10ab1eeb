"""NumPy float64 references for the relaxation family and the estimators.

Straight transcriptions of the papers' formulas, written independently of
:mod:`gumbelxp._family` / :mod:`gumbelxp._estimators` (no gumbelxp import):
the oracle of ``tests/test_family_*.py`` and of the conformance suite's
family checks. Plain loops and direct formulas over speed; float64
throughout; no care for ``-inf`` beyond what each docstring says.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import itertools
import math

import numpy as np


def _t(tau, axis):
    tau = np.asarray(tau, dtype=np.float64)
    return tau if tau.ndim == 0 else np.expand_dims(tau, axis)


def logsumexp(a, axis, keepdims=False):
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis)


def gumbel_log_softmax_ref(logits, g, tau, axis=-1):
    """``log_softmax((logits + g) / tau)``; ``-inf`` where a logit is."""
    s = (np.asarray(logits, np.float64) + g) / _t(tau, axis)
    return s - logsumexp(s, axis, keepdims=True)


def exp_relaxed_log_prob_ref(log_y, logits, tau, axis=-1):
    """Maddison et al. (2017), appendix C, over the unmasked categories:
    ``lgamma(K) + (K-1) log tau + sum(a) - K logsumexp(a)``,
    ``a = logits - tau log_y``."""
    log_y, logits = np.broadcast_arrays(np.asarray(log_y, np.float64),
                                        np.asarray(logits, np.float64))
    ly = np.moveaxis(log_y, axis, -1)
    lg = np.moveaxis(logits, axis, -1)
    taus = np.broadcast_to(np.asarray(tau, np.float64), ly.shape[:-1])
    out = np.empty(ly.shape[:-1])
    for i in np.ndindex(*ly.shape[:-1]):
        keep = lg[i] != -np.inf
        t = taus[i]
        a = lg[i][keep] - t * ly[i][keep]
        k = int(keep.sum())
        out[i] = (math.lgamma(k) + (k - 1) * math.log(t) + a.sum()
                  - k * logsumexp(a, 0))
    return out


def relaxed_log_prob_ref(y, logits, tau, axis=-1):
    """The Concrete density, Maddison et al. (2017), eq. 2."""
    y, logits = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(logits, np.float64))
    n = y.shape[axis]
    t = _t(tau, axis)
    a = logits - t * np.log(y)
    return (math.lgamma(n) + (n - 1) * np.log(np.asarray(tau, np.float64))
            + np.sum(logits - (t + 1) * np.log(y), axis=axis) - n * logsumexp(a, axis))


def logistic_from_uniform(u):
    u = np.asarray(u, np.float64)
    return np.log(u) - np.log1p(-u)


def gumbel_sigmoid_ref(logits, noise, tau, hard=False):
    s = np.asarray(logits, np.float64) + noise
    if hard:
        return (s > 0).astype(np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-s / np.asarray(tau, np.float64)))


def relaxed_bernoulli_log_prob_ref(y, logits, tau):
    """The binary Concrete density (Maddison et al. 2017, eq. 21)::

        p(y) = tau a y^(-tau-1) (1-y)^(-tau-1) / (a y^-tau + (1-y)^-tau)^2

    with ``a = exp(logits)``, in logs."""
    y = np.asarray(y, np.float64)
    tau = np.asarray(tau, np.float64)
    la = np.asarray(logits, np.float64)
    l1 = la - tau * np.log(y)
    l2 = -tau * np.log1p(-y)
    return (np.log(tau) + la - (tau + 1) * (np.log(y) + np.log1p(-y))
            - 2 * np.logaddexp(l1, l2))


def relaxed_topk_ref(logits, g, k, tau, axis=-1):
    """Xie and Ermon (2019), Algorithm 1, literally:
    ``a_j = softmax(s_j / tau)``, ``s_{j+1} = s_j + log(1 - a_j)``."""
    s = np.moveaxis(np.asarray(logits, np.float64) + g, axis, -1)
    t = np.asarray(tau, np.float64)  # a number, or one per slice (shape without axis)
    if t.ndim:
        t = t[..., None]
    y = np.zeros_like(s)
    with np.errstate(divide="ignore"):
        for _ in range(k):
            z = s / t
            z = z - z.max(axis=-1, keepdims=True)
            a = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
            y = y + a
            s = s + np.log1p(-a)
    return np.moveaxis(y, -1, axis)


def k_hot(indices, n, axis=-1):
    """The k-hot vectors of ``indices`` (k along ``axis``)."""
    ind = np.moveaxis(np.asarray(indices), axis, -1)
    out = np.zeros(ind.shape[:-1] + (n,))
    for i in np.ndindex(*ind.shape[:-1]):
        out[i][ind[i]] = 1.0
    return np.moveaxis(out, -1, axis)


def plackett_luce_ref(order, logits):
    """log P(draws without replacement give ``order``), one 1-D slice, by the
    sequential definition with probabilities (not logs)."""
    p = np.exp(np.asarray(logits, np.float64) - np.max(logits))
    p = p / p.sum()
    left = np.ones_like(p, dtype=bool)
    lp = 0.0
    for i in order:
        with np.errstate(divide="ignore"):
            lp += math.log(p[i] / p[left].sum()) if p[i] > 0 else -math.inf
        left[i] = False
    return lp


def plackett_luce_brute(logits, k):
    """{ordered k-tuple: probability} by enumerating the Gumbel-top-k law's
    sequential definition (its probabilities sum to 1)."""
    n = len(logits)
    return {o: math.exp(plackett_luce_ref(o, logits))
            for o in itertools.permutations(range(n), k)}


def conditional_gumbel_ref(logits, index, g, axis=-1):
    """Top-down construction (Maddison et al. 2014, Paulus et al. 2021 eq. 7),
    from standard Gumbel ``g``: at ``index`` ``T = logsumexp(logits) +
    g[index]``, elsewhere ``-log(exp(-T) + exp(-(logits_i + g_i)))``."""
    x = np.moveaxis(np.asarray(logits, np.float64), axis, -1)
    gg = np.moveaxis(np.asarray(g, np.float64), axis, -1)
    idx = np.asarray(index)
    out = np.empty(np.broadcast_shapes(x.shape, gg.shape))
    xb, gb = np.broadcast_to(x, out.shape), np.broadcast_to(gg, out.shape)
    ib = np.broadcast_to(idx, out.shape[:-1])
    for i in np.ndindex(*out.shape[:-1]):
        j = ib[i]
        t = logsumexp(xb[i], 0) + gb[i][j]
        with np.errstate(over="ignore"):
            z = -np.log(np.exp(-t) + np.exp(-(xb[i] + gb[i])))
        z[j] = t
        out[i] = z
    return np.moveaxis(out, -1, axis)


def softmax(a, axis=-1):
    a = np.asarray(a, np.float64)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_vjp(y, c, axis=-1):
    """``(diag(y) - y y^T) c`` along ``axis``."""
    return y * (c - np.sum(y * c, axis=axis, keepdims=True))


def reinmax_grad_ref(logits, one_hot, tau, cot):
    """The authors' ``ReinMax_Auto.backward`` (``grad_at_p = 0``), in NumPy,
    last axis."""
    logits = np.asarray(logits, np.float64)
    y_soft = softmax(logits)
    shifted = 0.5 * (softmax(logits / tau) + one_hot)
    g1 = 2 * cot * shifted
    g1 = g1 - shifted * g1.sum(-1, keepdims=True)
    g0 = -0.5 * cot * y_soft
    g0 = g0 - y_soft * g0.sum(-1, keepdims=True)
    g = g0 + g1
    return g - g.mean(-1, keepdims=True)


def gumbel_rao_grad_ref(logits, cond, tau, cot):
    """Mean over the leading axis of the softmax Jacobian at the conditional
    perturbed logits ``cond`` (samples, ..., n), over ``tau``."""
    y = softmax(np.asarray(cond, np.float64) / tau)
    return np.mean(softmax_vjp(y, cot) / tau, axis=0)
