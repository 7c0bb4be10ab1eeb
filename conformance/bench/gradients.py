"""Gradient quality of the categorical estimators, on problems with an exact
gradient.

Each problem is ``E_{z ~ p_theta}[f(z)]`` over ``L`` independent categorical
variables with ``K`` categories, ``p_theta(z) = prod_l softmax(theta_l)[z_l]``,
small enough that the ``K**L`` states can be enumerated: the exact gradient
is ``sum_z f(z) p_theta(z) (onehot(z) - softmax(theta))`` (NumPy float64).
Every estimator sees ``f`` as a differentiable function of the one-hot
sample ``D`` (its value off the vertices is what the estimators' gradients
read):

``quadratic``
    ``L = 1, K = 8``: ``f(D) = ||D - c||^2`` (ReinMax's quadratic example).
``polynomial``
    ``L = 6, K = 2``: ``f(D) = mean_l |D_l1 - 0.45|^3``, the polynomial
    programming toy of Liu et al. (2023), ``p = 3``.
``coupled``
    ``L = 3, K = 4``: ``f(D) = (sum_l D_l . v_l - 1)^2``, the variables
    interacting through the square.

Estimators: straight-through Gumbel-Softmax (``gumbel_softmax(hard=True)``),
ReinMax (``tau >= 1`` only), Gumbel-Rao with 1, 10 and 100 conditional
samples. For each problem, estimator and temperature, ``n`` independent
gradient estimates (one batch of ``n`` rows, one backward pass) give:

``cos``
    the cosine between the mean estimate and the true gradient (1 = no bias
    in direction);
``bias``
    ``|mean - true| / |true|`` (includes the Monte Carlo error of the mean,
    about ``sqrt(var / n)``);
``var``
    ``sum_j Var(estimate_j) / |true|^2``, the variance of one estimate
    relative to the true gradient's squared norm;
``us/grad``
    the batched call's wall time divided by ``n`` (forward, backward and
    noise; a throughput, not a latency), the best of repeated calls (at
    least three and 0.2 s, at most 50 or 0.5 s).

All noise comes from ``PortableRNG(seed)``, the same stream for every
estimator (straight-through, ReinMax and Gumbel-Rao then share their forward
samples) and for every backend: the table is computed on the first backend
(PyTorch by default), and every configuration is then recomputed on the
others with ``check_n`` rows and compared with the first backend's same
``check_n`` rows (``agree``: the largest difference of the mean gradient
relative to its norm; float32 rounding only).

``python -m gumbelxp.conformance.bench.gradients`` prints the table and the papers'
claims checked against it.

What the numbers show (seed 0; the bias and variance columns are
deterministic given the seed, only ``us/grad`` depends on the machine):

* ReinMax at ``tau = 1`` is *exactly* unbiased when ``f`` is quadratic in the
  one-hot sample (``quadratic``, ``coupled``: its expected gradient, summed
  over the enumerated samples, equals the true one to rounding; this is its
  second-order accuracy), and about half as biased as straight-through on the
  cubic toy. At ``tau = 2`` its midpoint ``(D + softmax(theta / 2)) / 2``
  is no longer the one the accuracy argument uses, and it can be *more*
  biased than straight-through (``polynomial``). It pays with a larger
  variance than straight-through at the same temperature (2-4x at
  ``tau = 1``, more at ``tau = 2``, where straight-through's shrinks).
* Gumbel-Rao has the expectation of straight-through at the same
  temperature (the same bias, within Monte Carlo error) and a lower
  variance, by 5-47% here (most at low temperature): it only removes the
  variance of the continuous noise given the sample, and the rest of
  straight-through's variance comes from the discrete sample itself. 10
  samples give most of the gain of 100.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import argparse
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

TAUS: tuple[float, ...] = (0.5, 1.0, 2.0)
RAO_SAMPLES: tuple[int, ...] = (1, 10, 100)
BACKENDS: tuple[str, ...] = ("torch", "jax", "tensorflow")


# ---------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    name: str
    L: int
    K: int
    seed: int

    def theta(self) -> np.ndarray:
        return np.random.default_rng(self.seed).normal(0.0, 1.0, (self.L, self.K))

    def params(self) -> dict[str, np.ndarray]:
        r = np.random.default_rng(self.seed + 1)
        if self.name == "quadratic":
            return {"c": r.uniform(0.0, 1.0, self.K)}
        if self.name == "polynomial":
            return {}
        return {"v": r.normal(0.0, 1.0, (self.L, self.K))}

    def f(self, xp: Any, d: Any, p: dict[str, Any]) -> Any:
        """``f`` of a batch of samples ``d`` (``(..., L, K)``), written once
        against ``xp``; ``p`` holds :meth:`params` as arrays of ``d``'s kind."""
        if self.name == "quadratic":
            return xp.sum((d - p["c"]) ** 2, axis=(-2, -1))
        if self.name == "polynomial":
            return xp.mean(xp.abs(d[..., 1] - 0.45) ** 3, axis=-1)
        s = xp.sum(d * p["v"], axis=(-2, -1))
        return (s - 1.0) ** 2

    def exact(self) -> tuple[float, np.ndarray]:
        """``(E f, d E f / d theta)`` by enumerating the ``K**L`` states."""
        import array_api_compat.numpy as xp

        theta = self.theta()
        pi = np.exp(theta - theta.max(-1, keepdims=True))
        pi /= pi.sum(-1, keepdims=True)
        states = np.array(list(itertools.product(range(self.K), repeat=self.L)))
        onehot = np.eye(self.K)[states]  # (S, L, K)
        prob = np.prod(pi[np.arange(self.L), states], axis=-1)  # (S,)
        fz = np.asarray(self.f(xp, onehot, self.params()), dtype=np.float64)
        value = float((prob * fz).sum())
        grad = np.einsum("s,s,slk->lk", prob, fz, onehot - pi)
        return value, grad


PROBLEMS: tuple[Problem, ...] = (
    Problem("quadratic", 1, 8, 0),
    Problem("polynomial", 6, 2, 1),
    Problem("coupled", 3, 4, 2),
)


# ---------------------------------------------------------------------------
# estimators
# ---------------------------------------------------------------------------
def estimators(taus: tuple[float, ...] = TAUS,
               rao_samples: tuple[int, ...] = RAO_SAMPLES) -> list[tuple[str, float]]:
    """(estimator, tau) pairs; ReinMax only at ``tau >= 1`` (as in the paper)."""
    out: list[tuple[str, float]] = []
    for t in taus:
        out.append(("straight-through", t))
        if t >= 1.0:
            out.append(("reinmax", t))
        out.extend((f"gumbel-rao/{s}", t) for s in rao_samples)
    return out


def _estimate(name: str, x: Any, tau: float, rng: Any) -> Any:
    import gumbelxp as gx

    if name == "straight-through":
        return gx.gumbel_softmax(x, tau, hard=True, rng=rng)
    if name == "reinmax":
        return gx.reinmax(x, tau, rng=rng)
    if name.startswith("gumbel-rao/"):
        return gx.gumbel_rao(x, tau, samples=int(name.split("/")[1]), rng=rng)
    raise ValueError(f"unknown estimator {name!r}")


def rows_for(estimator: str, n: int) -> int:
    """Rows (independent estimates) for an estimator: ``n``, but a quarter for
    Gumbel-Rao with more than 10 conditional samples (its noise costs
    ``samples + 1`` draws a row, and its variance is the smallest)."""
    if estimator.startswith("gumbel-rao/") and int(estimator.split("/")[1]) > 10:
        return max(n // 4, 2)
    return n


def _compile(backend: str, fn: Any) -> Any:
    """``jax.jit`` on JAX, whose eager mode compiles every operation for every
    new shape (seconds per configuration); the function itself elsewhere."""
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def gradients(backend: str, problem: Problem, name: str, tau: float, n: int,
              seed: int, timed: bool = True) -> tuple[np.ndarray, float]:
    """``n`` gradient estimates ``(n, L, K)`` (float64) and the seconds the
    batched forward and backward pass took (after a warm-up call; NaN unless
    ``timed``)."""
    from gumbelxp._portable import PortableRNG

    from ..support import Target, from_numpy, to_numpy

    be = Target(backend)
    xp = be.namespace
    x = from_numpy(be, np.tile(problem.theta(), (n, 1, 1)), "float32")
    p = {k: from_numpy(be, v, "float32") for k, v in problem.params().items()}
    ones = from_numpy(be, np.ones(n), "float32")

    def loss(a: Any) -> Any:
        return problem.f(xp, _estimate(name, a, tau, PortableRNG(seed)), p)

    grad = _compile(backend, lambda a, c: be.vjp(loss, (a,), c)[1][0])
    g = to_numpy(grad(x, ones))  # also the warm-up: compilation, first-call costs
    if not timed:
        return g.astype(np.float64), math.nan
    best, spent, calls = math.inf, 0.0, 0
    # the best of >= 3 calls and >= 0.2 s of calls (at most 50 calls or 0.5 s)
    while not ((calls >= 3 and spent >= 0.2) or spent >= 0.5 or calls >= 50):
        t0 = time.perf_counter()
        g = to_numpy(grad(x, ones))
        t = time.perf_counter() - t0
        best, spent, calls = min(best, t), spent + t, calls + 1
    return g.astype(np.float64), best


def metrics(g: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """``cos``, ``bias`` and ``var`` of the estimates ``g`` (rows) against the
    true gradient. ``bias`` removes the Monte Carlo part of the mean's error:
    ``E|mean - true|^2 = |E g - true|^2 + tr(Cov) / n``, so
    ``sqrt(max(|mean - true|^2 - tr(S) / n, 0)) / |true|`` estimates the
    estimator's own bias; ``bias_se`` is the Monte Carlo standard error of
    the mean in the same unit, ``sqrt(tr(S) / n) / |true|``."""
    n = g.shape[0]
    flat, t = g.reshape(n, -1), true.reshape(-1)
    mean = flat.mean(0)
    norm2 = float(t @ t)
    tr = float(flat.var(0, ddof=1).sum())
    err2 = float((mean - t) @ (mean - t))
    return {
        "cos": float(mean @ t / (np.linalg.norm(mean) * math.sqrt(norm2))),
        "bias": math.sqrt(max(err2 - tr / n, 0.0) / norm2),
        "bias_se": math.sqrt(tr / n / norm2),
        "var": tr / norm2,
    }


def run(problems: tuple[Problem, ...] | None = None, taus: tuple[float, ...] = TAUS,
        rao_samples: tuple[int, ...] = RAO_SAMPLES, n: int = 8000,
        backends: tuple[str, ...] | None = None, check_n: int = 64,
        check_taus: tuple[float, ...] | None = (1.0,), seed: int = 0,
        progress: bool = False) -> list[dict[str, Any]]:
    """The gradient-quality records: one per problem, estimator and
    temperature (see the module docstring). ``backends[0]`` computes the
    metrics from ``rows_for(estimator, n)`` estimates; each other backend
    recomputes ``check_n`` rows from the same seed for the temperatures in
    ``check_taus`` (all if None), ``agree`` being the worst difference of
    its mean gradient from ``backends[0]``'s on the same rows, relative to
    that mean's norm."""
    from ..support import unavailable_reason

    problems = PROBLEMS if problems is None else problems
    names = [b for b in (BACKENDS if backends is None else backends)
             if unavailable_reason(b) is None]
    if not names:
        raise RuntimeError("no autograd backend (torch, jax, tensorflow) is installed")
    first, others = names[0], names[1:]
    records = []
    configs = [(pb, e, t) for pb in problems for e, t in estimators(taus, rao_samples)]
    for i, (pb, est, tau) in enumerate(configs):
        if progress:
            print(f"\r[{i + 1}/{len(configs)}] {pb.name} {est} tau={tau:g}" + " " * 10,
                  end="", flush=True)
        _, true = pb.exact()
        rows = rows_for(est, n)
        g, secs = gradients(first, pb, est, tau, rows, seed)
        rec: dict[str, Any] = {"problem": pb.name, "states": pb.K**pb.L, "estimator": est,
                               "tau": tau, "n": rows, "backend": first, **metrics(g, true),
                               "us_per_grad": secs / rows * 1e6,
                               "true_norm": float(np.linalg.norm(true)), "agree": {}}
        if others and (check_taus is None or tau in check_taus):
            ref, _ = gradients(first, pb, est, tau, check_n, seed, timed=False)
            ref_mean = ref.mean(0)
            scale = max(float(np.linalg.norm(ref_mean)), 1e-12)
            for b in others:
                gb, _ = gradients(b, pb, est, tau, check_n, seed, timed=False)
                rec["agree"][b] = float(np.abs(gb.mean(0) - ref_mean).max() / scale)
        records.append(rec)
    if progress:
        print("\r" + " " * 70 + "\r", end="", flush=True)
    return records


def format_table(records: list[dict[str, Any]]) -> str:
    """The records as a fixed-width table, one row per configuration."""
    others = sorted({b for r in records for b in r["agree"]})
    head = (f"{'problem':<11}{'K^L':>4} {'estimator':<17}{'tau':>4}{'n':>6}{'cos':>8}"
            f"{'bias':>7}{'(se)':>7}{'var':>8}{'us/grad':>9}")
    if others:
        head += "  agree: " + ", ".join(others)
    lines = [head, "-" * len(head)]
    for r in records:
        line = (f"{r['problem']:<11}{r['states']:>4} {r['estimator']:<17}{r['tau']:>4g}"
                f"{r['n']:>6}{r['cos']:>8.4f}{r['bias']:>7.3f}{r['bias_se']:>7.3f}"
                f"{r['var']:>8.3g}{r['us_per_grad']:>9.2f}")
        if r["agree"]:
            line += "  " + " ".join(f"{r['agree'].get(b, math.nan):.0e}" for b in others)
        lines.append(line)
    return "\n".join(lines)


def claims(records: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """The papers' qualitative claims checked on the records: a list of
    (claim, holds, evidence)."""
    by = {(r["problem"], r["estimator"], r["tau"]): r for r in records}
    problems = list(dict.fromkeys(r["problem"] for r in records))
    out = []

    def best(pb: str, est: str) -> dict[str, Any] | None:
        rs = [r for r in records if r["problem"] == pb and r["estimator"] == est]
        return min(rs, key=lambda r: r["bias"]) if rs else None

    ev, ok = [], True
    for pb in problems:
        rm, st = best(pb, "reinmax"), best(pb, "straight-through")
        if rm and st:
            ok &= rm["bias"] < st["bias"]
            ev.append(f"{pb}: {rm['bias']:.3f} (tau={rm['tau']:g}) vs {st['bias']:.3f} "
                      f"(tau={st['tau']:g})")
    if ev:
        out.append(("ReinMax is less biased than straight-through, each at its best "
                    "temperature (Liu et al. 2023)", ok, "; ".join(ev)))
    ev, ok = [], True
    for (pb, est, tau), r in by.items():
        st = by.get((pb, "straight-through", tau))
        if est == "reinmax" and st is not None and tau == 1.0:
            ok &= r["bias"] < st["bias"]
            ev.append(f"{pb}: {r['bias']:.3f} vs {st['bias']:.3f}")
    if ev:
        out.append(("ReinMax is less biased than straight-through at tau = 1, on every "
                    "problem", ok, "; ".join(ev)))
    ev, ok = [], True
    for (pb, est, tau), r in by.items():
        st = by.get((pb, "straight-through", tau))
        if est.startswith("gumbel-rao/") and est != "gumbel-rao/1" and st is not None:
            same = abs(r["bias"] - st["bias"]) <= 3 * math.hypot(r["bias_se"], st["bias_se"])
            ok &= r["var"] < st["var"] and same
            ev.append(f"{pb} {est} tau={tau:g}: var {r['var']:.3g} vs {st['var']:.3g}")
    if ev:
        out.append(("Gumbel-Rao (10 and 100 samples) has lower variance than straight-through "
                    "at the same bias, within 3 standard errors (Paulus et al. 2021)", ok,
                    "; ".join(ev)))
    agree = [v for r in records for v in r["agree"].values()]
    if agree:
        worst = max(agree)
        out.append(("the same PortableRNG seed gives the same gradients on every backend",
                    worst < 1e-4, f"worst relative difference of the mean gradient {worst:.1e} "
                    f"({len(agree)} comparisons)"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gumbelxp.conformance.bench.gradients",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--n", type=int, default=8000, help="gradient estimates per configuration")
    p.add_argument("--check-n", type=int, default=64,
                   help="rows recomputed on the other backends")
    p.add_argument("--check-all", action="store_true",
                   help="compare the backends at every temperature, not only tau = 1")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated; the first computes the table")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    records = run(n=args.n, check_n=args.check_n, seed=args.seed,
                  check_taus=None if args.check_all else (1.0,),
                  backends=tuple(b for b in args.backends.split(",") if b), progress=True)
    print(f"Gradient quality on {records[0]['backend']}, PortableRNG({args.seed}); exact "
          "gradients by enumeration; bias (Monte Carlo part removed) and var relative to "
          "|true gradient|\n")
    print(format_table(records))
    print()
    failed = 0
    for claim, ok, evidence in claims(records):
        failed += not ok
        print(f"[{'holds' if ok else 'FAILS'}] {claim}\n        {evidence}")
    print(f"\n{time.perf_counter() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
