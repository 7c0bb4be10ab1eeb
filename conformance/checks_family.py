"""Conformance checks of the relaxation family and the estimators.

The same scheme as :mod:`gumbelxp._conformance` (one result per backend x
dtype x case, the same ``compare`` and tolerance table), kept in its own
module so that the core's suite stays as it is:

``family``
    The value given the same ``PortableRNG`` seed (or, for the densities, the
    same inputs) against the NumPy float64 references of
    :mod:`gumbelxp._family_reference`, whose noise comes from the pure-Python
    Philox of the core suite: hence the same values on every backend.
``fam_grad``
    On autograd backends (``adapter.vjp``): the gradient with respect to the
    logits against central differences of the float64 reference (the
    densities and the relaxed samplers, noise fixed) or the papers' formulas
    (ReinMax's backward as the authors' package computes it; Gumbel-Rao's
    average of softmax Jacobians at the conditional samples).

Tolerances are the dtype's row of :data:`gumbelxp.conformance.support.TOLERANCES`
widened by :data:`WIDEN` (chains of a dozen operations, and values up to ~30
in log space, instead of one softmax).
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import reference_family as R
from .reference import (
    Mismatch,
    Result,
    _as,
    _back,
    _backend,
    _run,
    compare,
    noise_ref,
    topk_ref,
    uniform_ref,
)
from .support import TOLERANCES, from_numpy

FAMILY_CHECKS = ("family", "fam_grad")
WIDEN = 20.0
SEED = 20260613
_NEG = -math.inf


@dataclass(frozen=True)
class FamilyCase:
    """One call of a family function on fixed inputs (see :data:`FAMILY_CASES`)."""

    name: str
    fn: str
    shape: tuple[int, ...] = (4, 6)
    axis: int = -1
    tau: float | str = 0.7  # a number, or "slice" (one value per slice)
    hard: bool = False
    k: int = 3
    grad: bool = True


FAMILY_CASES: tuple[FamilyCase, ...] = (
    FamilyCase("log_softmax", "gumbel_log_softmax"),
    FamilyCase("log_softmax_axis0_tau_slice", "gumbel_log_softmax", (6, 4), 0, "slice"),
    FamilyCase("log_softmax_tiny_tau", "gumbel_log_softmax", tau=1e-3, grad=False),
    FamilyCase("exp_relaxed_log_prob", "exp_relaxed_log_prob"),
    FamilyCase("exp_relaxed_log_prob_tau_slice", "exp_relaxed_log_prob", tau="slice"),
    FamilyCase("sigmoid", "gumbel_sigmoid"),
    FamilyCase("sigmoid_hard", "gumbel_sigmoid", hard=True),
    FamilyCase("relaxed_bernoulli_log_prob", "relaxed_bernoulli_log_prob"),
    FamilyCase("relaxed_topk", "relaxed_topk"),
    FamilyCase("relaxed_topk_axis0_tau_slice", "relaxed_topk", (6, 4), 0, "slice", k=2),
    FamilyCase("relaxed_topk_hard", "relaxed_topk", hard=True),
    FamilyCase("plackett_luce_full", "plackett_luce_log_prob", k=6),
    FamilyCase("plackett_luce_partial", "plackett_luce_log_prob", k=2),
    FamilyCase("conditional_gumbel", "conditional_gumbel"),
    FamilyCase("reinmax", "reinmax", tau=1.5),
    FamilyCase("gumbel_rao", "gumbel_rao", tau=0.5, k=4),  # k: conditional samples
)
FAMILY_CASES_BY_NAME = {c.name: c for c in FAMILY_CASES}


def _inputs(case: FamilyCase) -> dict[str, Any]:
    """Float64 NumPy inputs: logits (with -inf entries, never a whole slice),
    per-slice taus, density points, indices, a cotangent."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    shape, ax = case.shape, case.axis % len(case.shape)
    logits = rng.normal(0.0, 1.5, shape)
    n = shape[ax]
    if case.fn not in ("gumbel_sigmoid", "relaxed_bernoulli_log_prob"):
        logits_t = np.moveaxis(logits, ax, -1)
        logits_t[1, 2] = _NEG  # one masked category in one slice
        logits = np.moveaxis(logits_t, -1, ax)
    else:
        logits.flat[3] = _NEG
    slices = tuple(d for i, d in enumerate(shape) if i != ax)
    out: dict[str, Any] = {
        "logits": logits,
        "tau": rng.uniform(0.3, 2.0, slices) if case.tau == "slice" else case.tau,
        "cot": rng.normal(size=shape),
        "cot_slice": rng.normal(size=slices),
        "y": rng.uniform(0.05, 0.95, shape),
        "g": rng.gumbel(size=shape),
    }
    lt = np.moveaxis(logits, ax, -1)
    perms = np.stack([rng.permutation(n) for _ in range(math.prod(slices))]).reshape(
        (*slices, n))
    # avoid drawing the masked category (probability 0) in the partial orders
    if case.k < n:
        for i in np.ndindex(*slices):
            order = [j for j in perms[i] if np.isfinite(lt[i][j])]
            perms[i][: case.k] = order[: case.k]
    out["indices"] = np.moveaxis(perms[..., : case.k], -1, ax)
    out["index"] = np.argmax(lt, axis=-1)
    return out


def _reference(case: FamilyCase, inp: dict[str, Any], dtype: str,
               logits: np.ndarray) -> np.ndarray:
    """The float64 reference of a case's forward value at (rounded) ``logits``."""
    ax = case.axis % len(case.shape)
    work = "float64" if dtype == "float64" else "float32"
    tau = inp["tau"]
    f = case.fn
    if f == "gumbel_log_softmax":
        return R.gumbel_log_softmax_ref(logits, noise_ref(SEED, case.shape, dtype), tau, ax)
    if f == "exp_relaxed_log_prob":
        return R.exp_relaxed_log_prob_ref(inp["log_y"], logits, tau, ax)
    if f == "gumbel_sigmoid":
        lnoise = R.logistic_from_uniform(uniform_ref(SEED, case.shape, work))
        y = R.gumbel_sigmoid_ref(np.where(np.isneginf(logits), 0.0, logits), lnoise, tau,
                                 case.hard)
        return np.where(np.isneginf(logits), 0.0, y)
    if f == "relaxed_bernoulli_log_prob":
        with np.errstate(invalid="ignore"):
            lp = R.relaxed_bernoulli_log_prob_ref(inp["y"], logits, tau)
        return np.where(np.isneginf(logits), _NEG, lp)
    if f == "relaxed_topk":
        g = noise_ref(SEED, case.shape, dtype)
        if case.hard:
            return R.k_hot(topk_ref(logits + g, case.k, ax), case.shape[ax], ax)
        return R.relaxed_topk_ref(logits, g, case.k, tau, ax)
    if f == "plackett_luce_log_prob":
        lt = np.moveaxis(logits, ax, -1)
        it = np.moveaxis(inp["indices"], ax, -1)
        out = np.empty(lt.shape[:-1])
        for i in np.ndindex(*lt.shape[:-1]):
            out[i] = R.plackett_luce_ref(it[i], lt[i])
        return out
    if f == "conditional_gumbel":
        return R.conditional_gumbel_ref(logits, inp["index"], noise_ref(SEED, case.shape,
                                                                        dtype), ax)
    if f == "reinmax":
        g = noise_ref(SEED, case.shape, dtype)
        return _one_hot(np.argmax(logits + g, axis=ax), case.shape[ax], ax)
    if f == "gumbel_rao":
        g = noise_ref(SEED, (case.k + 1, *case.shape), dtype)[0]
        return _one_hot(np.argmax(logits + g, axis=ax), case.shape[ax], ax)
    raise KeyError(f)


def _one_hot(idx: np.ndarray, n: int, ax: int) -> np.ndarray:
    return np.moveaxis(np.eye(n)[idx], -1, ax)


def _call(case: FamilyCase, be: Any, arrs: dict[str, Any]) -> Callable[..., Any]:
    """``f(logits, *tau)``: the case's call on backend ``be`` (a fresh
    PortableRNG(SEED) each time)."""
    import gumbelxp as gx
    from gumbelxp._portable import PortableRNG

    c = case

    def f(logits: Any, *tau: Any) -> Any:
        t = tau[0] if tau else arrs["tau"]
        rng = PortableRNG(SEED)
        if c.fn == "gumbel_log_softmax":
            return gx.gumbel_log_softmax(logits, t, c.axis, rng=rng)
        if c.fn == "exp_relaxed_log_prob":
            return gx.exp_relaxed_log_prob(arrs["log_y"], logits, t, c.axis)
        if c.fn == "gumbel_sigmoid":
            return gx.gumbel_sigmoid(logits, t, c.hard, rng=rng)
        if c.fn == "relaxed_bernoulli_log_prob":
            return gx.relaxed_bernoulli_log_prob(arrs["y"], logits, t)
        if c.fn == "relaxed_topk":
            return gx.relaxed_topk(logits, c.k, t, c.hard, c.axis, rng=rng)
        if c.fn == "plackett_luce_log_prob":
            return gx.plackett_luce_log_prob(arrs["indices"], logits, c.axis)
        if c.fn == "conditional_gumbel":
            return gx.conditional_gumbel(logits, arrs["index"], c.axis, rng=rng)
        if c.fn == "reinmax":
            return gx.reinmax(logits, t, c.axis, rng=rng)
        if c.fn == "gumbel_rao":
            return gx.gumbel_rao(logits, t, c.axis, samples=c.k, rng=rng)
        raise KeyError(c.fn)

    return f


def _arrays(case: FamilyCase, be: Any, dtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
    inp = _inputs(case)
    logits = _as(be, inp["logits"], dtype)
    ref = {"logits": _back(logits), "tau": inp["tau"], "y": None, "indices": inp["indices"],
           "index": inp["index"]}
    arrs: dict[str, Any] = {"logits": logits, "tau": inp["tau"]}
    if case.tau == "slice":
        arrs["tau"] = _as(be, inp["tau"], dtype)
        ref["tau"] = _back(arrs["tau"])
    ax = case.axis % len(case.shape)
    if case.fn == "exp_relaxed_log_prob":
        ly = R.gumbel_log_softmax_ref(inp["logits"], inp["g"], inp["tau"], ax)
        arrs["log_y"] = _as(be, ly, dtype)
        ref["log_y"] = _back(arrs["log_y"])
    arrs["y"] = _as(be, inp["y"], dtype)
    ref["y"] = _back(arrs["y"])
    arrs["indices"] = from_numpy(be, inp["indices"].astype(np.int64))
    arrs["index"] = from_numpy(be, inp["index"].astype(np.int64))
    arrs["cot"] = _as(be, inp["cot"] if case.fn not in (
        "exp_relaxed_log_prob", "plackett_luce_log_prob") else inp["cot_slice"], dtype)
    ref["cot"] = _back(arrs["cot"])
    return arrs, ref


def _tol(dtype: str) -> tuple[float, float]:
    r, a = TOLERANCES[dtype]
    return r * WIDEN, a * WIDEN * (30 if dtype in ("float16", "bfloat16") else 1)


def check_family(backend: str, dtype: str, case: FamilyCase) -> Result:
    """The forward value against the float64 reference."""

    def fn() -> tuple[float, str]:
        be = _backend(backend)
        arrs, ref = _arrays(case, be, dtype)
        out = _call(case, be, arrs)(arrs["logits"])
        got = _back(out)
        want = _reference(case, {**_inputs(case), **ref}, dtype, ref["logits"])
        if case.hard or case.fn in ("reinmax", "gumbel_rao"):
            bad = int((got != want).sum())
            if bad:
                raise Mismatch(f"{bad}/{got.size} entries of the exact 0/1 output differ")
            return 0.0, "exact"
        if case.fn == "gumbel_log_softmax" and not np.isfinite(got[~np.isneginf(want)]).all():
            raise Mismatch("a finite log-space value became infinite")
        return compare(got, want, dtype, _tol(dtype)), ""

    return _run("family", backend, dtype, case.name, fn)


def _grad_reference(case: FamilyCase, ref: dict[str, Any], dtype: str) -> np.ndarray:
    """d sum(cot * f) / d logits, float64."""
    ax = case.axis % len(case.shape)
    lg, cot, tau = ref["logits"], ref["cot"], ref["tau"]

    def mv(a: np.ndarray) -> np.ndarray:
        return np.moveaxis(a, ax, -1)

    if case.fn == "reinmax":
        g = noise_ref(SEED, case.shape, dtype)
        d = _one_hot(np.argmax(lg + g, axis=ax), case.shape[ax], ax)
        out = R.reinmax_grad_ref(mv(lg), mv(d), tau, mv(cot))
        out = np.where(np.isneginf(mv(lg)), 0.0, out)
        return np.moveaxis(out, -1, ax)
    if case.fn == "gumbel_rao":
        g = noise_ref(SEED, (case.k + 1, *case.shape), dtype)
        idx = np.argmax(mv(lg) + mv(g[0]), axis=-1)
        cond = R.conditional_gumbel_ref(mv(lg), idx, np.moveaxis(g[1:], ax + 1, -1))
        return np.moveaxis(R.gumbel_rao_grad_ref(mv(lg), cond, tau, mv(cot)), -1, ax)
    full = {**_inputs(case), **ref}
    soft = dataclasses.replace(case, hard=False)  # straight-through: the soft gradient

    def f(v: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            val = _reference(soft, full, dtype, v)
        return np.where(np.isfinite(val), cot * val, 0.0)

    out = np.zeros_like(lg)
    h = 1e-6
    for j in np.ndindex(*lg.shape):
        if not np.isfinite(lg[j]):
            continue
        p, m = lg.copy(), lg.copy()
        p[j] += h
        m[j] -= h
        out[j] = (f(p) - f(m)).sum() / (2 * h)
    return out


def check_family_grad(backend: str, dtype: str, case: FamilyCase) -> Result:
    def fn() -> tuple[float, str]:
        be = _backend(backend)
        arrs, ref = _arrays(case, be, dtype)
        f = _call(case, be, arrs)
        _, grads = be.vjp(f, (arrs["logits"],), arrs["cot"])
        got = _back(grads[0])
        if not np.isfinite(got).all():
            raise Mismatch("a gradient is not finite")
        want = _grad_reference(case, ref, dtype)
        # finite differences of a float64 function: accurate to ~1e-8
        r, a = _tol(dtype)
        return compare(got, want, dtype, (max(r, 1e-7), max(a, 1e-7))), "logits"

    return _run("fam_grad", backend, dtype, case.name, fn)


def run_family(backend: str, dtype: str) -> list[Result]:
    """Every family check of one backend and dtype."""
    be = _backend(backend)
    out = [check_family(backend, dtype, c) for c in FAMILY_CASES]
    if be.has("autograd"):
        out += [check_family_grad(backend, dtype, c) for c in FAMILY_CASES if c.grad]
    return out
