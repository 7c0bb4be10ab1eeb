"""The conformance cases: every backend against one NumPy float64 reference.

One source of truth for ``conformance/`` (pytest, one test id per backend x
dtype x case) and ``gumbelxp check`` (the same results as a table).

What is compared, for each selected backend and each floating dtype it has:

``bits``
    PortableRNG's 32-bit words: the three Random123 known-answer vectors of
    Philox-4x32-10 and the stream at several (seed, counter) positions, against
    a scalar pure-Python Philox written here. Exact.
``uniform``
    ``PortableRNG.uniform``: exact for float32 / float64 (the mapping from
    words is exact), within tolerance for half precision; always in (0, 1).
``noise``
    Gumbel noise from PortableRNG, including the extreme words, against the
    documented transform evaluated in float64.
``fwd_seed`` / ``fwd_noise``
    ``gumbel_softmax`` given the same ``PortableRNG`` seed, and given the same
    ``noise=``, against ``softmax((logits + g) / tau)`` in float64.
``grad``
    On autograd backends (``adapter.vjp``): the gradient with respect to the
    logits and to a per-slice ``tau`` against the analytic gradient.
``max`` / ``topk``
    ``gumbel_max`` / ``gumbel_topk`` indices for the same PortableRNG seed,
    equal to the reference's (hence equal across backends).
``errors``
    The same exception type for the same bad input on every backend.
``law``
    The backend's *native* generator (an int seed) and PortableRNG: mean and
    variance of Gumbel samples (z-tests), a chi-square over 20 equiprobable
    bins of the Gumbel law, and Gumbel-max frequencies against softmax.

The reference never calls gumbelxp, except that its Gumbel noise starts from
PortableRNG's words, which come from the pure-Python Philox here (checked
against the known-answer vectors). Values are compared with the tolerance of
the dtype in :data:`gumbelxp.conformance.support.TOLERANCES`: ``|a - r| <= atol + rtol *
|r|``, NaN where and only where the reference is NaN. The error reported is
``max |a - r| / max(|r|, atol / rtol)``, a relative error floored near zero,
to read against ``rtol``.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import argparse
import math
import time
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from .checks_family import run_family
from .reference import (  # noqa: F401  (re-exported: the checks' references)
    _MASK,
    KAT,
    P_MIN,
    Mismatch,
    Result,
    _as,
    _back,
    _backend,
    _expand_tau,
    _run,
    compare,
    dtypes_of,
    grads_ref,
    noise_from_words_ref,
    noise_ref,
    philox_ref,
    softmax_ref,
    stream_ref,
    topk_ref,
    uniform_ref,
    words_per_value,
)
from .support import TOLERANCES, from_numpy, to_numpy

SEED = 20240607
CHECKS = ("bits", "uniform", "noise", "fwd_seed", "fwd_noise", "grad", "max", "topk",
          "errors", "law",
          # the relaxation family and the estimators: gumbelxp.conformance.checks_family
          "family", "fam_grad")

# ---------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One input configuration of ``gumbel_softmax`` / ``gumbel_max`` / ``gumbel_topk``."""

    name: str
    shape: tuple[int, ...]
    axis: int = -1
    tau: str = "scalar"  # "scalar" (a Python float) or "slice" (one value per slice)
    hard: bool = False
    mask: str = "none"  # "none", "some" (-inf entries) or "slice" (+ one all -inf slice)
    k: int = 2

    @property
    def has_nan_slice(self) -> bool:
        return self.mask == "slice"


CASES: tuple[Case, ...] = (
    Case("1d", (7,)),
    Case("1d_hard_tau_slice", (7,), tau="slice", hard=True),
    Case("2d", (4, 6)),
    Case("2d_axis0", (6, 4), axis=0, k=3),
    Case("2d_tau_slice", (4, 6), tau="slice"),
    Case("2d_hard", (4, 6), hard=True),
    Case("2d_axis0_hard_tau_slice", (6, 4), axis=0, tau="slice", hard=True),
    Case("3d_axis0_tau_slice", (3, 5, 4), axis=0, tau="slice"),
    Case("3d_axis1", (3, 5, 4), axis=1, k=4),
    Case("3d_axis2_hard", (3, 5, 4), axis=2, hard=True),
    Case("size1_axes", (1, 6, 1), axis=1, tau="slice"),
    Case("size1_categories", (4, 1), k=1),
    Case("mask_inf", (4, 6), mask="some", k=3),
    Case("mask_inf_hard_tau_slice_axis0", (6, 4), axis=0, tau="slice", hard=True, mask="some"),
    Case("all_masked_slice", (4, 6), mask="slice"),
    Case("all_masked_slice_axis0_tau_slice", (6, 4), axis=0, tau="slice", mask="slice"),
)
CASES_BY_NAME = {c.name: c for c in CASES}


def _case_rng(*parts: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(parts).encode()))


def case_inputs(case: Case) -> dict[str, Any]:
    """Float64 NumPy inputs of a case: logits, per-slice tau, noise, cotangent."""
    rng = _case_rng("inputs", case.name)
    shape, axis = case.shape, case.axis % len(case.shape)
    logits = rng.normal(0.0, 2.0, shape)
    if case.mask != "none":
        mask = rng.random(shape) < 0.3
        # keep at least one finite logit in every slice
        first = [slice(None)] * len(shape)
        first[axis] = slice(0, 1)
        mask[tuple(first)] = False
        logits[mask] = -np.inf
        if case.mask == "slice":
            slice_idx: list[Any] = [0] * len(shape)
            slice_idx[axis] = slice(None)
            slice_idx[(axis + 1) % len(shape)] = 1 % shape[(axis + 1) % len(shape)]
            logits[tuple(slice_idx)] = -np.inf
    tau_shape = tuple(n for i, n in enumerate(shape) if i != axis)
    return {
        "logits": logits,
        "tau": rng.uniform(0.3, 2.0, tau_shape) if case.tau == "slice" else 0.7,
        "noise": rng.gumbel(size=shape),
        "cotangent": rng.normal(size=shape),
        "seed": int(rng.integers(0, 2**63)),
    }


# ---------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------
#: (seed, counter, n) stream positions checked word for word: block-aligned and
#: not, a key with both halves set, a counter whose block index needs 33+ bits
STREAM_POSITIONS = ((0, 0, 9), (SEED, 3, 10), (2**64 - 1, 2**34 * 4 + 2, 7),
                    (0x0123456789ABCDEF, 2**32 * 4 - 5, 11))
#: extreme words of the float32 and float64 noise transform
EXTREME_WORDS_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, _MASK)
EXTREME_WORDS_64 = ((0, 0), (0, _MASK), (0x7FFFFFFF, _MASK), (0x80000000, 0),
                    (0x80000000, _MASK), (_MASK, _MASK))


def check_bits(backend: str) -> Result:
    """Known-answer vectors and stream words: exact."""
    from gumbelxp._philox import philox4x32
    from gumbelxp._portable import PortableRNG

    def fn() -> tuple[float, str]:
        be = _backend(backend)
        xp, idt = be.namespace, getattr(be.namespace, be.philox_int)
        bad = 0
        for ctr, key, expected in KAT:
            if philox_ref(ctr, key) != expected:
                raise Mismatch(f"the pure-Python reference fails the KAT {ctr}")
            arrs = tuple(xp.astype(from_numpy(be, np.asarray([c], dtype=np.int64)), idt)
                         for c in ctr)
            got = [int(_back(w).astype(np.uint64)[0]) for w in philox4x32(xp, arrs, key)]
            bad += sum(g != e for g, e in zip(got, expected, strict=True))
        n_words = 4 * len(KAT)
        for seed, counter, n in STREAM_POSITIONS:
            rng = PortableRNG(seed, counter)
            words = np.asarray(to_numpy(rng.random_bits((n,), xp=backend))).astype(np.uint64)
            bad += int((words != stream_ref(seed, counter, n)).sum())
            n_words += n
            if rng.counter != counter + n:
                raise Mismatch(f"counter {rng.counter} after drawing {n} words from {counter}")
        if bad:
            raise Mismatch(f"{bad}/{n_words} words differ from Philox-4x32-10")
        return 0.0, f"{n_words} words exact"

    return _run("bits", backend, "any", "kat+stream", fn, "count")


def check_uniform(backend: str, dtype: str) -> Result:
    from gumbelxp._portable import PortableRNG

    def fn() -> tuple[float, str]:
        shape, seed, counter = (3, 7), SEED + 1, 5
        u = PortableRNG(seed, counter).uniform(shape, xp=backend, dtype=dtype)
        got = _back(u)
        if not ((got > 0) & (got < 1)).all():
            raise Mismatch("a uniform outside the open interval (0, 1)")
        exact = dtype in ("float32", "float64")
        tol = (0.0, 0.0) if exact else None
        return compare(got, uniform_ref(seed, shape, dtype, counter), dtype, tol), (
            "exact" if exact else "rounded")

    return _run("uniform", backend, dtype, "portable", fn)


def check_noise(backend: str, dtype: str) -> Result:
    """PortableRNG noise (as gx.gumbel draws it) and the transform's extremes."""
    import gumbelxp as gx
    from gumbelxp._philox import gumbel_from_words
    from gumbelxp._portable import PortableRNG

    def fn() -> tuple[float, str]:
        be = _backend(backend)
        xp = be.namespace
        shape, seed = (5, 8), SEED + 2
        g = gx.gumbel(shape, xp=backend, dtype=dtype, rng=PortableRNG(seed, 3))
        err = compare(_back(g), noise_ref(seed, shape, dtype, 3), dtype)
        work = "float64" if dtype == "float64" else "float32"
        words = np.asarray(EXTREME_WORDS_64 if work == "float64"
                           else [(w,) for w in EXTREME_WORDS_32], dtype=np.uint64)
        w = xp.astype(from_numpy(be, words.astype(np.int64)), getattr(be.namespace, be.philox_int))
        ge = _back(gumbel_from_words(xp, w, getattr(xp, work)))
        err = max(err, compare(ge, noise_from_words_ref(words), work))
        return err, f"range [{ge.min():.4f}, {ge.max():.4f}]"

    return _run("noise", backend, dtype, "portable", fn)


def _case_arrays(be: Any, case: Case, dtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case's inputs on the backend in ``dtype``, and the same values
    (after rounding to ``dtype``) as float64 NumPy arrays."""
    inp = case_inputs(case)
    logits = _as(be, inp["logits"], dtype)
    noise = _as(be, inp["noise"], dtype)
    cot = _as(be, inp["cotangent"], dtype)
    tau = _as(be, inp["tau"], dtype) if case.tau == "slice" else inp["tau"]
    ref = {"logits": _back(logits), "noise": _back(noise), "cotangent": _back(cot),
           "tau": _back(tau) if case.tau == "slice" else tau, "seed": inp["seed"]}
    return {"logits": logits, "noise": noise, "cotangent": cot, "tau": tau}, ref


def check_case(backend: str, dtype: str, case: Case) -> list[Result]:
    """fwd_seed, fwd_noise, grad (autograd backends), max and topk for one case."""
    import gumbelxp as gx
    from gumbelxp._portable import PortableRNG

    be = _backend(backend)
    axis = case.axis % len(case.shape)
    out: list[Result] = []
    try:
        arr, ref = _case_arrays(be, case, dtype)
    except Exception as e:
        return [Result(c, backend, dtype, case.name, False, math.inf, "rel",
                       f"preparing inputs: {type(e).__name__}: {e}")
                for c in ("fwd_seed", "fwd_noise", "max", "topk")]
    seed = ref["seed"]
    g_seed = noise_ref(seed, case.shape, dtype)

    def fwd_seed() -> tuple[float, str]:
        y = gx.gumbel_softmax(arr["logits"], arr["tau"], case.hard, case.axis,
                              rng=PortableRNG(seed))
        return compare(_back(y), softmax_ref(ref["logits"], g_seed, ref["tau"], axis,
                                             case.hard), dtype), ""

    def fwd_noise() -> tuple[float, str]:
        y = gx.gumbel_softmax(arr["logits"], arr["tau"], case.hard, case.axis,
                              noise=arr["noise"])
        return compare(_back(y), softmax_ref(ref["logits"], ref["noise"], ref["tau"], axis,
                                             case.hard), dtype), ""

    def grad() -> tuple[float, str]:
        def f(logits: Any, *tau: Any) -> Any:
            return gx.gumbel_softmax(logits, tau[0] if tau else arr["tau"], case.hard,
                                     case.axis, noise=arr["noise"])

        args = (arr["logits"], arr["tau"]) if case.tau == "slice" else (arr["logits"],)
        _, grads = be.vjp(f, args, arr["cotangent"])
        d_logits, d_tau = grads_ref(ref["logits"], ref["noise"], ref["tau"], axis,
                                    ref["cotangent"])
        err = compare(_back(grads[0]), d_logits, dtype)
        if d_tau is not None:
            err = max(err, compare(_back(grads[1]), d_tau, dtype))
        return err, "logits and tau" if d_tau is not None else "logits"

    def indices(kind: str) -> Callable[[], tuple[float, str]]:
        def fn() -> tuple[float, str]:
            v = ref["logits"] + g_seed
            if kind == "max":
                got = _back(gx.gumbel_max(arr["logits"], case.axis, rng=PortableRNG(seed)))
                want = np.argmax(v, axis=axis)
            else:
                got = _back(gx.gumbel_topk(arr["logits"], case.k, case.axis,
                                           rng=PortableRNG(seed)))
                want = topk_ref(v, case.k, axis)
            if got.shape != want.shape:
                raise Mismatch(f"shape {got.shape}, expected {want.shape}")
            # a slice with every logit -inf has no sample: not compared
            valid = ~np.all(np.isneginf(ref["logits"]), axis=axis)
            if kind == "topk":
                valid = np.broadcast_to(np.expand_dims(valid, axis), want.shape)
            bad = int(((got != want) & valid).sum())
            if bad:
                raise Mismatch(f"{bad}/{int(valid.sum())} indices differ: got "
                               f"{got.astype(np.int64).tolist()}, expected {want.tolist()}")
            return 0.0, f"{int(valid.sum())} indices"
        return fn

    out.append(_run("fwd_seed", backend, dtype, case.name, fwd_seed))
    out.append(_run("fwd_noise", backend, dtype, case.name, fwd_noise))
    if be.has("autograd"):
        out.append(_run("grad", backend, dtype, case.name, grad))
    out.append(_run("max", backend, dtype, case.name, indices("max"), "count"))
    out.append(_run("topk", backend, dtype, case.name, indices("topk"), "count"))
    return out


# -- bad input: (name, expected exception type, call(be, dtype)) --------------
def _bad_inputs() -> list[tuple[str, type, Callable[[Any, str], Any]]]:
    import gumbelxp as gx

    def logits(be: Any, dtype: str, shape: tuple[int, ...] = (2, 3)) -> Any:
        return _as(be, np.arange(math.prod(shape), dtype=np.float64).reshape(shape), dtype)

    def foreign_generator(be: Any, dtype: str) -> Any:
        gen: Any = np.random.default_rng(0)
        if be.is_generator(gen):  # NumPy's own generator: take a PortableRNG-like misfit
            gen = object()
        return gx.gumbel_softmax(logits(be, dtype), rng=gen)

    def masked(be: Any, dtype: str) -> Any:
        return _as(be, [[0.0, 1.0], [-np.inf, -np.inf]], dtype)

    return [
        ("int_logits", TypeError,
         lambda be, dt: gx.gumbel_softmax(from_numpy(be, np.arange(4, dtype=np.int32)))),
        ("bool_logits", TypeError,
         lambda be, dt: gx.gumbel_max(from_numpy(be, np.array([True, False])))),
        ("tau_zero", ValueError, lambda be, dt: gx.gumbel_softmax(logits(be, dt), 0.0)),
        ("tau_negative", ValueError, lambda be, dt: gx.gumbel_softmax(logits(be, dt), -1.0)),
        ("tau_inf", ValueError, lambda be, dt: gx.gumbel_softmax(logits(be, dt), math.inf)),
        ("tau_nan", ValueError, lambda be, dt: gx.gumbel_softmax(logits(be, dt), math.nan)),
        ("tau_bad_shape", ValueError,
         lambda be, dt: gx.gumbel_softmax(logits(be, dt), _as(be, np.ones((2, 3)), dt))),
        ("k_zero", ValueError, lambda be, dt: gx.gumbel_topk(logits(be, dt), 0, rng=0)),
        ("k_too_big", ValueError, lambda be, dt: gx.gumbel_topk(logits(be, dt), 4, rng=0)),
        ("k_float", TypeError, lambda be, dt: gx.gumbel_topk(logits(be, dt), 1.5, rng=0)),  # type: ignore[call-overload]
        ("axis_out_of_range", ValueError,
         lambda be, dt: gx.gumbel_softmax(logits(be, dt), axis=2, rng=0)),
        ("rng_and_noise", TypeError,
         lambda be, dt: gx.gumbel_softmax(logits(be, dt), rng=0, noise=logits(be, dt))),
        ("noise_bad_shape", ValueError,
         lambda be, dt: gx.gumbel_max(logits(be, dt), noise=logits(be, dt, (3, 2)))),
        ("rng_not_a_generator", TypeError,
         lambda be, dt: gx.gumbel_softmax(logits(be, dt), rng="seed")),
        ("foreign_generator", TypeError, foreign_generator),
        ("validate_all_masked", ValueError,
         lambda be, dt: gx.gumbel_softmax(masked(be, dt), rng=0, validate=True)),
        ("validate_nan", ValueError,
         lambda be, dt: gx.gumbel_max(_as(be, [[0.0, np.nan]], dt), rng=0, validate=True)),
        ("scale_zero", ValueError,
         lambda be, dt: gx.gumbel((3,), xp=be.name, dtype=dt, scale=0.0, rng=0)),
    ]


BAD_INPUTS = tuple(name for name, _, _ in _bad_inputs())


def check_error(backend: str, dtype: str, name: str) -> Result:
    """One bad input: the expected exception type, exactly (not a subclass
    chosen by the framework)."""
    expected, call = {n: (t, c) for n, t, c in _bad_inputs()}[name]

    def fn() -> tuple[float, str]:
        be = _backend(backend)
        try:
            call(be, dtype)
        except Exception as e:
            if type(e) is not expected:
                raise Mismatch(f"raised {type(e).__name__} ({e}), expected "
                               f"{expected.__name__}") from None
            return 0.0, expected.__name__
        raise Mismatch(f"no exception, expected {expected.__name__}")

    return _run("errors", backend, dtype, name, fn, "count")


# -- the law of the generators ------------------------------------------------
EULER_GAMMA = 0.5772156649015329
LAW_DRAWS = 100_000
LAW_LOGITS = (1.0, 2.0, -math.inf, 3.0, 4.0)


def chi2_sf(x: float, df: int) -> float:
    """Survival function of the chi-square distribution, integer ``df``
    (closed forms; no SciPy needed)."""
    if x <= 0:
        return 1.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= (x / 2) / i
            total += term
        return math.exp(-x / 2) * total
    total = math.erfc(math.sqrt(x / 2))
    if df > 1:
        term = math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
        acc = term
        for i in range(1, (df - 1) // 2):
            term *= x / (2 * i + 1)
            acc += term
        total += acc
    return total


def _chi2_p(counts: np.ndarray, expected: np.ndarray) -> float:

    keep = expected > 0
    if (counts[~keep] > 0).any():
        return 0.0  # a category of probability 0 was drawn
    chi2 = float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return chi2_sf(chi2, int(keep.sum()) - 1)


#: significand bits (with the implicit one) of each floating dtype
PRECISION = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _midpoint_edges(edges: np.ndarray, bits: int) -> np.ndarray:
    """Each (nonzero) edge moved to the midpoint between a number of
    ``bits`` significand bits next to it and the next such number up: samples
    rounded to that precision then fall on the same side of the edge as
    before rounding, so binning is exact for half precision too."""
    e = np.asarray(edges, dtype=np.float64)
    step = 2.0 ** (np.floor(np.log2(np.abs(e))) - (bits - 1))
    r = np.round(e / step) * step
    k = np.floor(np.log2(np.abs(r)))
    up = 2.0 ** (k - (bits - 1))
    # spacing above r: halves when a negative r is a power of two
    up = np.where((r < 0) & (np.abs(r) == 2.0**k), up / 2, up)
    return r + up / 2


def law_pvalues(g: np.ndarray, dtype: str = "float64") -> dict[str, float]:
    """Two-sided p-values of standard-Gumbel samples ``g`` (drawn in
    ``dtype``): mean, variance (z-tests) and a chi-square over 20 bins of
    about equal probability, their edges midpoints of ``dtype``'s grid."""
    n = g.size
    var = math.pi**2 / 6
    z_mean = (g.mean() - EULER_GAMMA) / math.sqrt(var / n)
    # Var(sample variance) ~ (mu4 - sigma^4) / n, kurtosis of the Gumbel law 5.4
    z_var = (g.var() - var) / math.sqrt(4.4 * var**2 / n)
    edges = _midpoint_edges(-np.log(-np.log(np.linspace(0.0, 1.0, 21)[1:-1])),
                            PRECISION[dtype])
    cdf = np.concatenate([[0.0], np.exp(-np.exp(-edges)), [1.0]])
    counts = np.bincount(np.searchsorted(edges, g, side="right"), minlength=20)
    return {"mean": math.erfc(abs(z_mean) / math.sqrt(2)),
            "var": math.erfc(abs(z_var) / math.sqrt(2)),
            "bins": _chi2_p(counts, n * np.diff(cdf))}


def check_law(backend: str, dtype: str) -> Result:
    """The native generator (``seeded_generator``) and PortableRNG follow the Gumbel law;
    Gumbel-max frequencies follow softmax and never pick a -inf logit."""
    import gumbelxp as gx
    from gumbelxp._portable import PortableRNG

    def fn() -> tuple[float, str]:
        be = _backend(backend)
        ps: dict[str, float] = {}
        for src, rng in (("native", be.native_generator(SEED)), ("portable", PortableRNG(SEED))):
            g = _back(gx.gumbel((LAW_DRAWS,), xp=backend, dtype=dtype, rng=rng))
            if not np.isfinite(g).all():
                raise Mismatch(f"{src} noise is not finite")
            ps.update({f"{src} {k}": v for k, v in law_pvalues(g, dtype).items()})
        logits = np.asarray(LAW_LOGITS)
        draws = LAW_DRAWS // 5
        batch = _as(be, np.tile(logits, (draws, 1)), dtype)
        idx = _back(gx.gumbel_max(batch, rng=be.native_generator(SEED + 1))).astype(np.int64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        ps["native max"] = _chi2_p(np.bincount(idx, minlength=logits.size), draws * p)
        worst = min(ps, key=ps.__getitem__)
        return ps[worst], f"smallest p-value: {worst}"

    return _run("law", backend, dtype, "native+portable", fn, "p")


# ---------------------------------------------------------------------------
# running everything
# ---------------------------------------------------------------------------


def backend_tasks(backend: str, dtypes: Iterable[str] | None = None
                  ) -> list[tuple[str, Callable[[], list[Result]]]]:
    """Every check on one backend as ``(label, run)`` steps, in order: the
    unit of ``gumbelxp check``'s progress bar."""
    def one(check: Callable[..., Result], *args: Any) -> Callable[[], list[Result]]:
        return lambda: [check(backend, *args)]

    def errors(dt: str) -> list[Result]:
        return [check_error(backend, dt, n) for n in BAD_INPUTS]

    tasks: list[tuple[str, Callable[[], list[Result]]]] = [(f"{backend} bits", one(check_bits))]
    for dt in dtypes if dtypes is not None else dtypes_of(backend):
        tasks.append((f"{backend} {dt} uniform", one(check_uniform, dt)))
        tasks.append((f"{backend} {dt} noise", one(check_noise, dt)))
        for case in CASES:
            tasks.append((f"{backend} {dt} {case.name}", partial(check_case, backend, dt, case)))
        tasks.append((f"{backend} {dt} errors", partial(errors, dt)))
        tasks.append((f"{backend} {dt} law", one(check_law, dt)))
        tasks.append((f"{backend} {dt} family", partial(_family_results, backend, dt)))
    return tasks


def run_backend(backend: str, dtypes: Iterable[str] | None = None) -> list[Result]:
    """Every check on one backend."""
    return [r for _, run in backend_tasks(backend, dtypes) for r in run()]


#: the widest table ``gumbelxp check`` prints; wider ones wrap into blocks
TABLE_WIDTH = 100


def _p_text(p: float) -> str:
    return f"{p:.2f}" if p >= 0.01 else f"{p:.0e}"


# ---------------------------------------------------------------------------
# the relaxation family and the estimators (their own module, imported here
# lazily: it builds on this one)
# ---------------------------------------------------------------------------
def _family_results(backend: str, dtype: str) -> list[Result]:
    return run_family(backend, dtype)


def _cell(rs: list[Result]) -> str:
    """At most 5 characters: the worst relative error, checks passed, the
    smallest p-value, ``FAIL``, or ``-`` (not applicable)."""
    if not rs:
        return "-"
    if not all(r.ok for r in rs):
        return "FAIL"
    kind = rs[0].kind
    if kind == "p":
        return _p_text(min(r.error for r in rs))
    if kind == "count":
        return f"{len(rs)}/{len(rs)}"
    worst = max(r.error for r in rs)
    return "0" if worst == 0 else f"{worst:.0e}"


@dataclass
class Table:
    """The results as rows (backend and dtype) by columns (checks)."""

    results: list[Result] = field(default_factory=list)

    def render(self, width: int = TABLE_WIDTH) -> str:
        rows: dict[tuple[str, str], dict[str, list[Result]]] = {}
        bits: dict[str, list[Result]] = {}
        for r in self.results:
            if r.check == "bits":
                bits.setdefault(r.backend, []).append(r)
            else:
                rows.setdefault((r.backend, r.dtype), {}).setdefault(r.check, []).append(r)
        for (b, _), cells in rows.items():
            cells["bits"] = bits.get(b, [])
        seen = {c for cells in rows.values() for c in cells}
        checks = list(CHECKS) + sorted(seen - set(CHECKS))
        labels = [f"{b} {dt}" for b, dt in rows]
        lw = max([len("backend dtype")] + [len(x) for x in labels]) + 1
        columns = []
        for c in checks:
            texts = [_cell(r.get(c, [])) for r in rows.values()]
            columns.append((c, texts, max([len(c)] + [len(x) for x in texts]) + 1))
        blocks: list[list[tuple[str, list[str], int]]] = [[]]
        for col in columns:
            if blocks[-1] and lw + sum(w for *_, w in blocks[-1]) + col[2] > width:
                blocks.append([])
            blocks[-1].append(col)
        out: list[str] = []
        for block in blocks:
            head = f"{'backend dtype':<{lw}}" + "".join(f"{c:>{w}}" for c, _, w in block)
            out += ([""] if out else []) + [head, "-" * len(head)]
            for i, label in enumerate(labels):
                out.append(f"{label:<{lw}}" + "".join(f"{cells[i]:>{w}}"
                                                      for _, cells, w in block))
        return "\n".join(out)


LEGEND = (
    "A cell passes unless it says FAIL (failures are listed below the table):\n"
    "  uniform, noise, fwd_seed, fwd_noise, grad: the worst relative error, which passes\n"
    "    up to the dtype's rtol: " + ", ".join(f"{d} {t[0]:g}" for d, t in TOLERANCES.items())
    + "\n"
    "  bits, max, topk, errors: cases passed; law: the smallest p-value (passes at >= "
    f"{P_MIN:g});\n"
    "  family, fam_grad: the relaxations and estimators against float64 formulas (values),\n"
    "    central differences or the published backward formulas (gradients); pass up to\n"
    "    20 rtol (fam_grad: at least 1e-7);\n"
    "  -: not applicable (grad needs autograd)."
)


def main(args: argparse.Namespace | None = None) -> int:
    """``gumbelxp check``: run every check on the installed (or named)
    backends with a progress bar on stderr, print the table, return 1 if
    anything failed or a named backend cannot run.

    Warnings that the checks provoke (bad inputs on purpose, float64 asked of
    JAX without x64) are recorded rather than printed; ``verbose`` lists
    them, with the time of each backend and every failure."""
    from gumbelxp._console import Progress

    from .support import unavailable_reason

    names = getattr(args, "backends", None)
    verbose = bool(getattr(args, "verbose", False))
    quiet = bool(getattr(args, "quiet", False))
    if names:
        backends = [n.strip() for n in names.split(",") if n.strip()]
    else:
        from .support import runnable_backends

        backends = runnable_backends()
    t0 = time.perf_counter()
    results: list[Result] = []
    missing: list[str] = []
    timings: list[str] = []
    # a first guess of the steps (4 dtypes each), corrected as each backend loads
    guess = 1 + 4 * (len(CASES) + 4)
    bar = Progress(len(backends) * (1 + guess), "gumbelxp check", enabled=not quiet)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan: list[tuple[str, list[tuple[str, Callable[[], list[Result]]]]]] = []
        for b in backends:
            bar.update(f"loading {b}")
            why = unavailable_reason(b)
            tasks = [] if why else backend_tasks(b)
            if why:
                missing.append(f"{b}: {why}")
            bar.add(len(tasks) - guess)
            bar.step()
            plan.append((b, tasks))
        for b, tasks in plan:
            t = time.perf_counter()
            n = 0
            for label, run in tasks:
                bar.update(label)
                rs = run()
                n += len(rs)
                results.extend(rs)
                bar.step()
            if tasks:
                timings.append(f"{b}: {n} checks in {time.perf_counter() - t:.1f} s")
    bar.close(f"{len(results)} checks")
    print("gumbelxp check: every backend against a NumPy float64 reference\n")
    print(Table(results).render())
    print()
    print(LEGEND)
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} checks passed on "
          f"{len({r.backend for r in results})} backends in {time.perf_counter() - t0:.1f} s")
    for m in missing:
        print(f"not run: {m}")
    if verbose:
        print("\ntime per backend:")
        for line in timings:
            print(f"  {line}")
        kinds = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
                        for w in caught})
        if kinds:
            print(f"\n{len(caught)} warnings raised while checking (provoked by the checks; "
                  f"{len(kinds)} kinds):")
            for k in kinds:
                print(f"  {k[:200]}")
    if failed:
        print(f"\n{len(failed)} failures:")
        for r in failed if verbose else failed[:25]:
            print(f"  {r.id}: {r.detail}")
        if not verbose and len(failed) > 25:
            print(f"  ... and {len(failed) - 25} more (-v lists all)")
    return 1 if failed or missing else 0
