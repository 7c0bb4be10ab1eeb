"""The float64 references and the comparison machinery of the conformance
checks: a pure-Python Philox-4x32-10 (pinned by Random123's known-answer
vectors), PortableRNG's documented word-to-value mappings, softmax, its
gradient and top-k in NumPy float64, and how a result is compared with
them. Nothing here calls gumbelxp's algorithms; :mod:`.checks` (the core
functions) and :mod:`.checks_family` (the relaxations and estimators) both
build on it.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .support import TOLERANCES, Target, float_dtypes, from_numpy, to_numpy

#: smallest p-value the law tests accept (fixed seeds: the outcome is deterministic)
P_MIN = 1e-4


# ---------------------------------------------------------------------------
# the reference: NumPy float64 (and plain Python for Philox), no gumbelxp
# ---------------------------------------------------------------------------
_MASK = 0xFFFFFFFF

#: Random123's known-answer vectors for Philox4x32-10: (counter, key, output)
KAT = (
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((_MASK,) * 4, (_MASK, _MASK), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
)


def philox_ref(ctr: tuple[int, ...], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Philox-4x32-10 on Python ints, straight from Salmon et al. (SC'11)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & _MASK, (k1 + 0xBB67AE85) & _MASK
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & _MASK, (p0 >> 32) ^ c3 ^ k1, p0 & _MASK)
    return c0, c1, c2, c3


def stream_ref(seed: int, start: int, n: int) -> np.ndarray:
    """Words ``start .. start + n - 1`` of PortableRNG(seed)'s stream (the
    layout in :mod:`gumbelxp._philox`), as uint64."""
    key = (seed & _MASK, seed >> 32)
    out: list[int] = []
    for b in range(start // 4, (start + n + 3) // 4):
        out.extend(philox_ref((b & _MASK, b >> 32, 0, 0), key))
    off = start - 4 * (start // 4)
    return np.asarray(out[off:off + n], dtype=np.uint64)


def noise_from_words_ref(w: np.ndarray) -> np.ndarray:
    """The documented words -> Gumbel transform in float64; ``w`` is
    ``(..., 1)`` (float32 noise) or ``(..., 2)`` (float64 noise)."""
    w = np.asarray(w, dtype=np.uint64)
    w0 = w[..., 0]
    b = (w0 >> np.uint64(31)) == 1
    r = (w0 & np.uint64(0x7FFFFFFF)).astype(np.float64)
    if w.shape[-1] == 1:
        x = (r + 0.5) * 2.0**-32
    else:
        x = r * 2.0**-32 + (w[..., 1].astype(np.float64) + 0.5) * 2.0**-64
    e = np.where(b, -np.log1p(-x), -np.log(x))
    return -np.log(e)


def words_per_value(dtype: str) -> int:
    return 2 if dtype == "float64" else 1


def noise_ref(seed: int, shape: tuple[int, ...], dtype: str, counter: int = 0) -> np.ndarray:
    """The Gumbel noise ``PortableRNG(seed, counter)`` gives for ``shape`` and
    ``dtype`` (half precision draws float32 noise), in float64."""
    per = words_per_value(dtype)
    n = math.prod(shape)
    w = stream_ref(seed, counter, per * n).reshape((n, per))
    return noise_from_words_ref(w).reshape(shape)


def uniform_ref(seed: int, shape: tuple[int, ...], dtype: str, counter: int = 0) -> np.ndarray:
    """``PortableRNG.uniform``'s documented values in float64 (before any
    rounding to half precision)."""
    n = math.prod(shape)
    if dtype == "float64":
        w = stream_ref(seed, counter, 2 * n).reshape((n, 2))
        hi = (w[:, 0] >> np.uint64(6)).astype(np.float64)
        lo = (w[:, 1] >> np.uint64(6)).astype(np.float64)
        return ((hi * 2.0**26 + lo + 0.5) * 2.0**-52).reshape(shape)
    w = stream_ref(seed, counter, n)
    return (((w >> np.uint64(9)).astype(np.float64) + 0.5) * 2.0**-23).reshape(shape)


def _expand_tau(tau: Any, axis: int) -> Any:
    return tau if np.ndim(tau) == 0 else np.expand_dims(tau, axis)


def softmax_ref(logits: np.ndarray, g: np.ndarray, tau: Any, axis: int,
                hard: bool) -> np.ndarray:
    """``softmax((logits + g) / tau, axis)``; ``hard``: one-hot of its argmax
    (NaN on a slice that is NaN)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s = logits + g
        z = (s - np.max(s, axis=axis, keepdims=True)) / _expand_tau(tau, axis)
        e = np.exp(z)
        y = e / np.sum(e, axis=axis, keepdims=True)
        if hard:
            idx = np.expand_dims(np.argmax(z, axis=axis), axis)
            one_hot = np.zeros_like(y)
            np.put_along_axis(one_hot, idx, 1.0, axis=axis)
            y = one_hot + (y - y)
    return y


def grads_ref(logits: np.ndarray, g: np.ndarray, tau: Any, axis: int,
              cot: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Analytic gradient of ``sum(cot * softmax((logits + g) / tau))`` with
    respect to the logits and (if an array) tau: with ``y`` the softmax and
    ``a = y * (cot - sum(y * cot))``, ``d/dlogits = a / tau`` and
    ``d/dtau = -sum(a * (s - max s)) / tau**2`` (``s = logits + g``; masked
    terms, ``a = 0``, contribute 0). The same for ``hard`` (straight-through)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        s = logits + g
        d = s - np.max(s, axis=axis, keepdims=True)
        t = _expand_tau(tau, axis)
        y = softmax_ref(logits, g, tau, axis, False)
        a = y * (cot - np.sum(y * cot, axis=axis, keepdims=True))
        d_logits = a / t
        if np.ndim(tau) == 0:
            return d_logits, None
        terms = np.where(np.isneginf(s) & ~np.isnan(a), 0.0, a * d)
        d_tau = -np.sum(terms, axis=axis) / np.asarray(tau) ** 2
    return d_logits, d_tau


def topk_ref(v: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Indices of the ``k`` largest of ``v`` in decreasing order, ties (e.g.
    -inf) by index."""
    order = np.argsort(-v, axis=axis, kind="stable")
    return np.take(order, np.arange(k), axis=axis)


# ---------------------------------------------------------------------------
# results and comparisons
# ---------------------------------------------------------------------------


@dataclass
class Result:
    """The outcome of one check on one backend, dtype and case."""

    check: str
    backend: str
    dtype: str
    case: str
    ok: bool
    error: float = 0.0  # the worst error seen; its unit is ``kind``
    kind: str = "rel"  # "rel" (relative error), "count" (mismatches), "p" (smallest p-value)
    detail: str = ""

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.dtype}-{self.check}-{self.case}"


class Mismatch(AssertionError):
    pass


def compare(actual: np.ndarray, ref: np.ndarray, dtype: str,
            tol: tuple[float, float] | None = None) -> float:
    """Worst relative error (floored at ``atol / rtol``) of ``actual`` against
    ``ref``; raises :class:`Mismatch` if outside the tolerance of ``dtype`` or
    if NaN appears anywhere but where the reference has NaN."""
    rtol, atol = TOLERANCES[dtype] if tol is None else tol
    a = np.asarray(actual, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if a.shape != r.shape:
        raise Mismatch(f"shape {a.shape}, expected {r.shape}")
    nan_a, nan_r = np.isnan(a), np.isnan(r)
    if (nan_a != nan_r).any():
        i = np.argwhere(nan_a != nan_r)[0]
        raise Mismatch(f"NaN pattern differs at {tuple(i)}: got {a[tuple(i)]}, "
                       f"expected {r[tuple(i)]}")
    a, r = a[~nan_r], r[~nan_r]
    if a.size == 0:
        return 0.0
    same_inf = (a == r)  # equal infinities count as exact
    diff = np.where(same_inf, 0.0, np.abs(a - r))
    floor = atol / rtol if rtol > 0 else np.finfo(np.float64).tiny
    err = float(np.max(diff / np.maximum(np.abs(r), floor)))
    bad = ~(diff <= atol + rtol * np.abs(r))
    if bad.any():
        j = int(np.argmax(bad))
        raise Mismatch(f"{int(bad.sum())}/{bad.size} values outside rtol={rtol}, atol={atol}; "
                       f"e.g. got {a[j]!r}, expected {r[j]!r} (worst rel. error {err:.2e})")
    return err


def _run(check: str, backend: str, dtype: str, case: str, fn: Callable[[], tuple[float, str]],
         kind: str = "rel") -> Result:
    """Run one check; any exception is a failure with its message. NumPy's
    warnings about the expected NaN of all-masked slices are silenced."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            err, detail = fn()
        ok = not (kind == "p" and err < P_MIN)
        return Result(check, backend, dtype, case, ok, err, kind, detail)
    except Mismatch as e:
        return Result(check, backend, dtype, case, False, math.inf, kind, str(e))
    except Exception as e:  # a crash is a failure, reported with its type
        return Result(check, backend, dtype, case, False, math.inf, kind,
                      f"{type(e).__name__}: {e}")


def _backend(name: str) -> Any:
    return Target(name)


def dtypes_of(backend: str) -> list[str]:
    """The floating dtypes a backend is checked in."""
    return float_dtypes(_backend(backend))


def _as(be: Any, a: Any, dtype: str) -> Any:
    return from_numpy(be, np.asarray(a, dtype=np.float64), dtype)


def _back(x: Any) -> np.ndarray:
    return np.asarray(to_numpy(x), dtype=np.float64)


