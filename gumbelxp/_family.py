"""The relaxation family beyond Gumbel-Softmax, written once against ``xp``.

Log-space samples and densities (ExpConcrete), the binary Concrete, relaxed
subsets (Xie and Ermon 2019), the Plackett-Luce law of Gumbel-top-k, and
Gumbel noise conditioned on its argmax (Maddison, Tarlow and Minka 2014).
The gradient estimators built on them are in :mod:`gumbelxp._estimators`.

Conventions shared by every function here:

* Arithmetic runs in float32 for half precision (float32 / float64
  otherwise) and the result is cast back to the input dtype.
* A ``-inf`` logit is a *structural* mask: the category is absent. Its entry
  is an exact constant (0, or ``-inf`` in log space) with zero gradient, and
  no expression ever evaluates ``-inf - -inf`` or ``0 * inf`` where a
  gradient could see it ("where twice": the unsafe operand is replaced
  before the operation, the result after it).
* Every log-sum-exp is shifted by its (gradient-free) maximum, so no finite
  input overflows at any temperature.
* A slice with a NaN, a ``+inf`` or only ``-inf`` logits is NaN, and no
  other slice is touched; ``validate=True`` raises ``ValueError`` naming it.

Nothing here names a framework: what differs between frameworks is a member
of the backend adapter (``stop_gradient``, ``shape``, ``device``,
``uniform``, ``whole_axis``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Protocol, TypeVar

from ._api import (
    _check_rng,
    _float_dtype,
    _noise,
    _prepare,
    _same_backend,
    _straight_through,
    _tau,
    _validate_logits,
)
from ._philox import PortableRNG
from .backends import backend_of


class _Array(Protocol):
    """What the signatures need of an array: its dtype (every supported
    array type has one)."""

    @property
    def dtype(self) -> Any: ...


#: the logits' array type, which the result has too (a torch.Tensor in, a
#: torch.Tensor out, for type checkers)
ArrayT = TypeVar("ArrayT", bound=_Array)
Array = Any
RNG = Any  # None | int | native generator | PortableRNG

__all__ = [
    "gumbel_log_softmax",
    "exp_relaxed_log_prob",
    "gumbel_sigmoid",
    "relaxed_bernoulli_log_prob",
    "relaxed_topk",
    "plackett_luce_log_prob",
    "conditional_gumbel",
]

_INF = math.inf


# ---------------------------------------------------------------------------
# helpers (private; the estimators module shares them)
# ---------------------------------------------------------------------------
def _tau_arg(tau: Any) -> Any:
    """A Python or NumPy real scalar as a Python float, so that it is checked
    as a number (finite and > 0) whatever the logits' framework; anything
    else (an array) unchanged."""
    if isinstance(tau, numbers.Real) and not isinstance(tau, bool):
        return float(tau)
    return tau


def _check_tau_values(be: Any, xp: Any, t: Any, least: float = 0.0,
                      strict: bool = True) -> None:
    """``validate=True`` for an array ``tau``: finite and > ``least``
    (``>= least`` unless ``strict``)."""
    if isinstance(t, float):
        return
    if not be.is_concrete(t):
        raise ValueError("validate=True reads tau's values, which is impossible while tracing")
    ok = (t > least) if strict else (t >= least)
    if not bool(xp.all(ok & (t < _INF))):
        rel = ">" if strict else ">="
        raise ValueError(f"tau must be finite and {rel} {least:g} everywhere")


def _lse(xp: Any, be: Any, z: Array, axis: int) -> Array:
    """``logsumexp(z)`` along ``axis`` (kept), shifted by its maximum (no
    gradient through the shift). A slice of only ``-inf`` gives ``-inf``
    (no NaN from ``-inf - -inf``); one with NaN or ``+inf`` gives NaN or
    ``+inf``."""
    m = be.stop_gradient(xp.max(z, axis=axis, keepdims=True))
    m = xp.where(m == -_INF, xp.zeros_like(m), m)
    return xp.log(xp.sum(xp.exp(z - m), axis=axis, keepdims=True)) + m


def _lse_safe(xp: Any, be: Any, z: Array, axis: int) -> tuple[Array, Array]:
    """``(lse, empty)``: ``logsumexp(z)`` along ``axis`` (kept) and whether the
    slice is all ``-inf``; for such a slice ``lse`` is ``-inf`` and its
    gradient 0 (not NaN: ``log`` never sees the zero sum)."""
    m = be.stop_gradient(xp.max(z, axis=axis, keepdims=True))
    empty = m == -_INF
    m = xp.where(empty, xp.zeros_like(m), m)
    s = xp.sum(xp.exp(z - m), axis=axis, keepdims=True)
    lse = xp.log(xp.where(empty, xp.ones_like(s), s)) + m
    return xp.where(empty, xp.full_like(lse, -_INF), lse), empty


def _scaled(be: Any, xp: Any, s: Array, t: Any, axis: int) -> tuple[Array, Array]:
    """``((s - max s) / t, masked)`` with ``masked = (s == -inf)``: the masked
    entries are the constant ``-inf`` (no gradient to ``s`` or ``t``); the
    others are clamped at the dtype's lowest finite value, so a tiny ``t``
    cannot overflow them to ``-inf``."""
    masked = s == -_INF
    m = be.stop_gradient(xp.max(s, axis=axis, keepdims=True))
    d = xp.where(masked, xp.zeros_like(s), s - xp.where(m == -_INF, xp.zeros_like(m), m))
    z = xp.clip(d / t, min=float(xp.finfo(s.dtype).min))
    return xp.where(masked, xp.full_like(z, -_INF), z), masked


def _softplus(xp: Any, x: Array) -> Array:
    """``log(1 + exp(x))``, stable for every ``x`` (``+inf`` at ``+inf``, 0 at
    ``-inf``, finite gradients)."""
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp: Any, x: Array) -> Array:
    """``1 / (1 + exp(-x))`` with ``exp`` only of non-positive numbers, so
    neither branch overflows (finite gradients at ``+-inf``)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _axis_iota(xp: Any, n: Any, ndim: int, axis: int, dtype: Any, device: Any) -> Array:
    """``arange(n)`` shaped to lie along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = n
    return xp.reshape(xp.arange(n, dtype=dtype, device=device), tuple(shape))


def _one_hot_argmax(be: Any, xp: Any, s: Array, axis: int) -> Array:
    """Exact one-hot (``s``'s dtype) of ``argmax(s)`` along ``axis``; ties to
    the first index."""
    idx = xp.argmax(s, axis=axis, keepdims=True)
    ar = _axis_iota(xp, be.shape(s)[axis], s.ndim, axis % s.ndim, idx.dtype, be.device(s))
    return xp.astype(idx == ar, s.dtype)


def _poison(xp: Any, s: Array, axis: int) -> Array:
    """0 per slice, or NaN where ``s`` holds NaN or ``+inf`` or is all
    ``-inf`` (kept axis): added to an output, it makes those slices NaN."""
    v = xp.max(s, axis=axis, keepdims=True)
    return v - v


def _finish(xp: Any, y: Array, dtype: Any, log_space: bool = False) -> Array:
    """``y`` in the input dtype; in log space a finite value stays finite
    (clamped at the dtype's lowest), ``-inf`` stays ``-inf``."""
    if y.dtype == dtype:
        return y
    if log_space:
        lo = float(xp.finfo(dtype).min)
        y = xp.where(y == -_INF, y, xp.clip(y, min=lo))
    return xp.astype(y, dtype)


def _uniform(be: Any, xp: Any, rng: RNG, shape: tuple, dtype: Any, device: Any,
             like: Any) -> Array:
    """Open-interval uniforms of ``shape`` from ``rng``: a PortableRNG (or what
    the backend turns the seed into) through :meth:`PortableRNG.uniform`,
    anything else through the adapter's native ``uniform``."""
    rng = be.as_counter_rng(_check_rng(be, rng))
    if isinstance(rng, PortableRNG):
        return rng.uniform(tuple(shape), like=like, dtype=dtype)
    return be.uniform(rng, tuple(shape), dtype, device)


def _bad_index(be: Any, xp: Any, bad: Array) -> list[int] | None:
    """The multi-index of the first True in ``bad`` (C order), or None."""
    if not bool(xp.any(bad)):
        return None
    first = int(xp.argmax(xp.astype(xp.reshape(bad, (-1,)), xp.int32)))
    idx = []
    for d in reversed(tuple(be.shape(bad))):
        idx.append(first % d)
        first //= d
    return idx[::-1]


def _raise_bad_slice(be: Any, xp: Any, bad: Array, axis: int | None, name: str,
                     why: str) -> None:
    """ValueError naming the first True of ``bad`` (a per-slice mask with
    ``axis`` removed, or an elementwise one when ``axis`` is None)."""
    idx = _bad_index(be, xp, bad)
    if idx is None:
        return
    parts = [str(i) for i in idx]
    if axis is None:
        raise ValueError(f"{name}[{', '.join(parts)}] {why} (first bad element)")
    parts.insert(axis, ":")
    raise ValueError(f"{name}[{', '.join(parts)}] {why}; first bad slice along axis {axis}")


def _require_concrete(be: Any, x: Any) -> None:
    if not be.is_concrete(x):
        raise ValueError("validate=True reads values, which is impossible while tracing "
                         "(jax.jit, tf.function graph mode): validate outside")


def _broadcast_prepare(a: Any, logits: Any, axis: Any, what: str) -> tuple:
    """Bring ``a`` and ``logits`` to the same number of dimensions (leading
    size-1 axes), so that ``axis`` counts in the broadcast shape; then the
    core's checks on the logits. Returns ``(be, xp, x, wdt, axis, a)`` with
    ``x`` the logits in the working dtype and ``a`` in the same backend."""
    be = backend_of(logits)
    xp = be.namespace
    _same_backend(be, a, what)
    nd = max(a.ndim, logits.ndim)
    while logits.ndim < nd:
        logits = xp.expand_dims(logits, axis=0)
    while a.ndim < nd:
        a = xp.expand_dims(a, axis=0)
    be, xp, x, wdt, _, axis = _prepare(logits, axis)
    return be, xp, x, wdt, axis, be.whole_axis(a, axis)


def _elementwise_prepare(logits: Any, what: str = "logits") -> tuple:
    be = backend_of(logits)
    xp = be.namespace
    wdt = _float_dtype(xp, logits.dtype, what)
    x = logits if logits.dtype == wdt else xp.astype(logits, wdt)
    return be, xp, x, wdt


def _elementwise_tau(be: Any, xp: Any, tau: Any, dtype: Any) -> Any:
    """A checked Python float, or an array of the logits' backend (broadcast
    elementwise)."""
    tau = _tau_arg(tau)
    if isinstance(tau, float):
        return _tau(be, xp, tau, 1, 0, dtype)  # the core's check of a number
    if isinstance(tau, bool) or tau is None:
        raise TypeError(f"tau must be a positive number or an array, got {tau!r}")
    _same_backend(be, tau, "tau, if not a number,")
    return xp.astype(tau, dtype)


def _validate_elementwise(be: Any, xp: Any, x: Array, name: str = "logits") -> None:
    """``validate=True`` for elementwise logits: NaN or ``+inf`` is bad."""
    _require_concrete(be, x)
    _raise_bad_slice(be, xp, xp.isnan(x) | (x == _INF), None, name, "is NaN or +inf")


# ---------------------------------------------------------------------------
# log space: ExpConcrete
# ---------------------------------------------------------------------------
def gumbel_log_softmax(
    logits: ArrayT,
    tau: float | Array = 1.0,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """The logarithm of a Gumbel-Softmax sample, computed in log space.

    ``log_softmax((logits + g) / tau, axis)`` with standard Gumbel noise
    ``g``: a sample of the ExpConcrete (``ExpRelaxedOneHotCategorical``)
    distribution. ``exp`` of it is :func:`gumbel_softmax` given the same
    noise, but it stays finite where that underflows to exact zeros (small
    ``tau`` in float32), so densities and KL estimates keep working there.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating; ``-inf`` masks a
        category (its entry is exactly ``-inf``, with zero gradient).
    tau : float or array
        Temperature > 0; an array gives one value per slice along ``axis``.
    axis : int
        The categories' axis (``dim`` is an alias).
    rng : None, int, native generator or PortableRNG
        The noise's source.
    noise : array, optional
        Precomputed standard Gumbel noise of the logits' shape.
    validate : bool
        Raise ValueError naming the first slice with NaN, ``+inf`` or only
        ``-inf`` logits instead of returning NaN there.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``logits``;
        ``logsumexp`` of each slice is 0. Finite for every valid input and
        every ``tau > 0`` (clamped at the dtype's lowest finite value rather
        than underflowing), ``-inf`` exactly at the masked categories.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32))
    >>> log_y = gx.gumbel_log_softmax(logits, tau=0.01, rng=0)
    >>> bool(np.isfinite(log_y).all()), log_y.dtype
    (True, dtype('float32'))
    >>> y = gx.gumbel_softmax(logits, tau=0.01, rng=0)   # the same sample, underflowing
    >>> bool(np.allclose(np.exp(log_y), y))
    True
    """
    axis = _dim_alias(axis, dim)
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    t = _tau(be, xp, _tau_arg(tau), len(shape), axis, wdt)
    if validate:
        _validate_logits(be, xp, x, axis)
        _check_tau_values(be, xp, t)
    g = _noise(be, xp, rng, noise, shape, wdt, be.device(logits), x)
    z, masked = _scaled(be, xp, x + g, t, axis)
    lse = _lse(xp, be, z, axis)
    # a masked entry is the constant -inf, no cotangent flows back from it
    # (but a slice with nothing unmasked, lse = -inf, stays NaN)
    out = xp.where(masked & (lse > -_INF), z, z - lse)
    return _finish(xp, out, logits.dtype, log_space=True)


def _dim_alias(axis: int, dim: int | None) -> int:
    if dim is not None:
        if axis != -1 and axis != dim:
            raise TypeError("give axis= or its alias dim=, not both")
        return dim
    return axis


def _log_factorial_minus_one(be: Any, xp: Any, count: Array, n: Any, ndim: int, axis: int,
                             dtype: Any) -> Array:
    """``log((count - 1)!)`` per slice for an integer-valued float ``count``
    in ``1..n`` (kept axis): the sum of ``log j`` for ``j < count``, over an
    ``arange(n)`` along ``axis`` (the standard has no ``lgamma``)."""
    j = _axis_iota(xp, n, ndim, axis, dtype, be.device(count))
    terms = xp.where(j < count, xp.log(xp.maximum(j, xp.ones_like(j))), xp.zeros_like(j))
    return xp.sum(terms, axis=axis, keepdims=True)


def exp_relaxed_log_prob(
    log_y: Array,
    logits: ArrayT,
    tau: float | Array,
    axis: int = -1,
    *,
    dim: int | None = None,
    validate: bool = False,
) -> ArrayT:
    """Log density of the ExpConcrete distribution at ``log_y``.

    The density of ``log_y = log_softmax((logits + g) / tau)`` (Maddison,
    Mnih and Teh 2017, appendix C)::

        log p = log((K-1)!) + (K-1) log tau + sum_k a_k - K logsumexp_k a_k,
        a_k = logits_k - tau * log_y_k

    where ``K`` counts the categories whose logit is not ``-inf``: a masked
    category is absent (its ``log_y`` is ``-inf`` and is ignored) and the
    density is that of the others. ``relaxed_log_prob(y) =
    exp_relaxed_log_prob(log y) - sum_k log y_k``.

    Parameters
    ----------
    log_y : array
        Points of the log-simplex along ``axis`` (``logsumexp(log_y) = 0``),
        e.g. from :func:`gumbel_log_softmax`; broadcasts with ``logits``.
    logits : array
        Unnormalised log-probabilities, real floating.
    tau : float or array
        Temperature > 0 (one value per slice if an array).
    axis : int
        The categories' axis, counted in the broadcast shape (``dim`` is an
        alias).
    validate : bool
        Also check that the logits are valid and ``logsumexp(log_y) = 0``
        along ``axis`` within the dtype's tolerance (``sqrt(eps)``), raising
        ValueError naming the first bad slice.

    Returns
    -------
    array
        The log density: the broadcast shape without ``axis``, the logits'
        dtype. Finite in float32 at every temperature at every point
        :func:`gumbel_log_softmax` returns.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> lp = gx.exp_relaxed_log_prob(np.log([0.5, 0.5]), np.zeros(2), 1.0)
    >>> round(float(lp), 6)   # the Concrete density (0.0) plus sum(log y)
    -1.386294
    >>> logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32))
    >>> log_y = gx.gumbel_log_softmax(logits, tau=0.001, rng=1)
    >>> bool(np.isfinite(gx.exp_relaxed_log_prob(log_y, logits, 0.001)))
    True
    """
    axis = _dim_alias(axis, dim)
    be, xp, x, wdt, axis, log_y = _broadcast_prepare(log_y, logits, axis, "log_y")
    _float_dtype(xp, log_y.dtype, "log_y")
    ly = xp.astype(log_y, wdt)
    nd = x.ndim
    t = _tau(be, xp, _tau_arg(tau), nd, axis, wdt)
    if validate:
        _validate_logits(be, xp, x, axis)
        _check_tau_values(be, xp, t)
        _require_concrete(be, ly)
        tol = math.sqrt(float(xp.finfo(log_y.dtype).eps))
        lse_y = xp.squeeze(_lse(xp, be, ly, axis), axis=axis)
        _raise_bad_slice(be, xp, ~(xp.abs(lse_y) <= tol), axis, "log_y",
                         f"has logsumexp != 0 (tolerance {tol:.1e})")
    masked = x == -_INF
    xs = xp.where(masked, xp.zeros_like(x), x)
    lys = xp.where(masked, xp.zeros_like(ly), ly)
    a = xs - t * lys
    a = xp.where(masked, xp.full_like(a, -_INF), a)
    lse_a = _lse(xp, be, a, axis)
    count = xp.sum(xp.astype(~masked, wdt), axis=axis, keepdims=True)
    sum_a = xp.sum(xp.where(a == -_INF, xp.zeros_like(a), a), axis=axis, keepdims=True)
    n = be.shape(x)[axis]
    log_t = math.log(t) if isinstance(t, float) else xp.log(t)
    lp = (_log_factorial_minus_one(be, xp, count, n, nd, axis, wdt)
          + (count - 1.0) * log_t + sum_a - count * lse_a)
    lp = xp.squeeze(lp, axis=axis)
    return _finish(xp, lp, logits.dtype)


# ---------------------------------------------------------------------------
# binary: the relaxed Bernoulli (binary Concrete)
# ---------------------------------------------------------------------------
def gumbel_sigmoid(
    logits: ArrayT,
    tau: float | Array = 1.0,
    hard: bool = False,
    *,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """A binary Concrete (relaxed Bernoulli) sample, elementwise.

    ``sigmoid((logits + l) / tau)`` with standard logistic noise
    ``l = log(u) - log(1 - u)``, one open-interval uniform ``u`` per element
    (Maddison et al. 2017; Jang et al. 2017).

    Parameters
    ----------
    logits : array
        Log-odds, real floating; ``-inf`` gives exactly 0 and ``+inf``
        exactly 1 (constants, zero gradient).
    tau : float or array
        Temperature > 0; an array broadcasts elementwise with ``logits``.
    hard : bool
        If True the forward value is exactly 0 or 1 (1 where
        ``logits + l > 0``, i.e. where the soft sample exceeds 1/2) and the
        gradient is the soft sample's (straight-through).
    rng : None, int, native generator or PortableRNG
        The noise's source.
    noise : array, optional
        Precomputed standard logistic noise of the logits' shape.
    validate : bool
        Raise ValueError naming the first NaN or ``+inf`` logit.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``logits``, in [0, 1].

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> y = gx.gumbel_sigmoid(np.zeros(100_000), tau=0.5, hard=True, rng=0)
    >>> sorted(set(y.tolist())), bool(abs(y.mean() - 0.5) < 0.01)
    ([0.0, 1.0], True)
    """
    be, xp, x, wdt = _elementwise_prepare(logits)
    t = _elementwise_tau(be, xp, tau, wdt)
    if validate:
        _validate_elementwise(be, xp, x)
        _check_tau_values(be, xp, t)
    shape = be.shape(x)
    dev = be.device(logits)
    if noise is not None:
        lg = _noise(be, xp, rng, noise, shape, wdt, dev, x)
    else:
        u = _uniform(be, xp, rng, shape, wdt, dev, x)
        lg = xp.log(u) - xp.log1p(-u)
    inf = xp.isinf(x)
    s = xp.where(inf, xp.zeros_like(x), x + lg)
    y = _sigmoid(xp, s / t)
    y = xp.where(inf, xp.astype(x > 0, wdt), y)
    if hard:
        y_hard = xp.astype((s > 0) | (x == _INF), wdt)
        y = _straight_through(be, y, y_hard)
    return _finish(xp, y, logits.dtype)


def relaxed_bernoulli_log_prob(
    y: Array,
    logits: ArrayT,
    tau: float | Array,
    *,
    validate: bool = False,
) -> ArrayT:
    """Log density of the relaxed Bernoulli (binary Concrete) at ``y``.

    With ``x = log(y) - log(1 - y)`` (the logit of ``y``) and
    ``d = logits - tau * x``::

        log p(y) = log tau + d - 2 softplus(d) - log(y) - log(1 - y),

    the density of ``sigmoid((logits + l) / tau)``; the same as
    ``torch.distributions.RelaxedBernoulli(tau, logits=logits).log_prob(y)``,
    computed without its clamping of ``y`` and stably for large ``|d|``.

    Parameters
    ----------
    y : array
        Points in the open interval (0, 1); broadcasts with ``logits``.
    logits : array
        Log-odds, real floating. A ``-inf`` logit (a point mass at 0) gives
        ``-inf``.
    tau : float or array
        Temperature > 0 (an array broadcasts elementwise).
    validate : bool
        Raise ValueError naming the first element of ``y`` outside (0, 1), or
        the first NaN or ``+inf`` logit.

    Returns
    -------
    array
        The elementwise log density, in the broadcast shape and the logits'
        dtype.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> float(gx.relaxed_bernoulli_log_prob(np.array(0.5), np.array(0.0), 1.0))
    0.0
    """
    be, xp, x, wdt = _elementwise_prepare(logits)
    _same_backend(be, y, "y")
    _float_dtype(xp, y.dtype, "y")
    yw = xp.astype(y, wdt)
    t = _elementwise_tau(be, xp, tau, wdt)
    if validate:
        _validate_elementwise(be, xp, x)
        _check_tau_values(be, xp, t)
        _require_concrete(be, yw)
        _raise_bad_slice(be, xp, ~((yw > 0) & (yw < 1)), None, "y", "is outside (0, 1)")
    log_y, log_1my = xp.log(yw), xp.log1p(-yw)
    masked = x == -_INF
    d = xp.where(masked, xp.zeros_like(x), x) - t * (log_y - log_1my)
    lp = d - 2.0 * _softplus(xp, d) - log_y - log_1my
    lp = lp + (math.log(t) if isinstance(t, float) else xp.log(t))
    lp = xp.where(masked, xp.full_like(lp, -_INF), lp)
    return _finish(xp, lp, logits.dtype)


# ---------------------------------------------------------------------------
# subsets and orderings
# ---------------------------------------------------------------------------
def _log1m_softmax(be: Any, xp: Any, z: Array, lse: Array, log_a: Array,
                   axis: int) -> Array:
    """``log(1 - softmax(z))`` elementwise, accurate everywhere: ``log1p(-a)``
    where ``a <= 1/2`` (every entry but the slice's argmax), and
    ``logsumexp(others) - logsumexp(z)`` at the argmax, whose ``a`` may round
    to 1. At an argmax with no other finite entry it is 0 (nothing else can
    take the mass, so the entry is not removed); at ``-inf`` entries 0."""
    hot = _one_hot_argmax(be, xp, z, axis) > 0
    a = xp.exp(xp.where(hot, xp.zeros_like(log_a) - 1.0, log_a))  # <= 1/2 off the argmax
    rest = xp.log1p(-a)
    others, only = _lse_safe(xp, be, xp.where(hot, xp.full_like(z, -_INF), z), axis)
    top = xp.where(only, xp.zeros_like(others), others - lse)
    return xp.where(hot, top, rest)


def relaxed_topk(
    logits: ArrayT,
    k: int,
    tau: float | Array = 1.0,
    hard: bool = False,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """A relaxed k-hot sample: a continuous relaxation of Gumbel-top-k.

    Xie and Ermon (2019), Algorithm 1: with ``s_1 = logits + g``,
    ``a_j = softmax(s_j / tau)`` and ``s_{j+1} = s_j + log(1 - a_j)``, the
    sum ``a_1 + ... + a_k``. ``log(1 - a_j)`` is computed in log space, so
    the chosen entries are removed exactly, at any temperature, without NaN
    in value or gradient. As ``tau -> 0`` the sample tends to the k-hot of
    :func:`gumbel_topk` with the same noise.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities; ``-inf`` masks a category (exactly 0).
    k : int
        Subset size, ``1 <= k <= n``.
    tau : float or array
        Temperature > 0 (one value per slice if an array).
    hard : bool
        If True the forward value is the exact k-hot of the
        :func:`gumbel_topk` indices for the same noise and the gradient is
        the soft sample's (straight-through).
    axis : int
        The categories' axis (``dim`` is an alias).
    rng, noise, validate
        As in :func:`gumbel_softmax`.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``logits``: entries >= 0
        summing to ``k`` along ``axis`` (an entry can exceed 1 at moderate
        ``tau``). With fewer than ``k`` unmasked categories the soft sample
        gives their mass to the unmasked ones, while the hard one follows
        :func:`gumbel_topk` (masked categories last).

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> y = gx.relaxed_topk(np.log([0.1, 0.2, 0.3, 0.4]), 2, tau=0.5, rng=0)
    >>> round(float(y.sum()), 6)
    2.0
    >>> gx.relaxed_topk(np.log([0.1, 0.2, 0.3, 0.4]), 2, hard=True, rng=0).tolist()  # gumbel_topk: [3, 1]
    [0.0, 1.0, 0.0, 1.0]
    """
    axis = _dim_alias(axis, dim)
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    n = shape[axis]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    k = int(k)
    if isinstance(n, int) and not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n} (the size of axis {axis}), got {k}")
    t = _tau(be, xp, _tau_arg(tau), len(shape), axis, wdt)
    if validate:
        _validate_logits(be, xp, x, axis)
        _check_tau_values(be, xp, t)
    s = x + _noise(be, xp, rng, noise, shape, wdt, be.device(logits), x)
    y_hard = None
    if hard:
        order = xp.argsort(s, axis=axis, descending=True, stable=True)
        rank = xp.argsort(order, axis=axis, stable=True)
        y_hard = xp.astype(rank < k, wdt)
        if not be.needs_grad(logits, tau):
            return _finish(xp, y_hard + _poison(xp, s, axis), logits.dtype)
    y = None
    for j in range(k):
        z, _ = _scaled(be, xp, s, t, axis)
        lse = _lse(xp, be, z, axis)
        log_a = z - lse
        a = xp.exp(log_a)
        y = a if y is None else y + a
        if j + 1 < k:
            s = s + _log1m_softmax(be, xp, z, lse, log_a, axis)
    if hard:
        y = _straight_through(be, y, y_hard)
    return _finish(xp, y, logits.dtype)


def plackett_luce_log_prob(
    indices: Array,
    logits: ArrayT,
    axis: int = -1,
    *,
    dim: int | None = None,
    validate: bool = False,
) -> ArrayT:
    """Log probability of an ordered draw without replacement (Plackett-Luce).

    The probability that drawing without replacement from
    ``softmax(logits)`` gives ``indices`` in that order, which is the law of
    :func:`gumbel_topk`::

        log p = sum_j [logits[i_j] - logsumexp(logits over the categories
                       not among i_1 .. i_{j-1})]

    Each step's log-sum-exp is computed over its own remaining set with its
    own maximum shift, so small late probabilities are accurate (no
    subtraction of exponentials). Memory is ``O(k n)`` per slice.

    Parameters
    ----------
    indices : array
        Integer array holding ``k <= n`` distinct categories along ``axis``;
        the other axes broadcast with ``logits``'.
    logits : array
        Unnormalised log-probabilities, real floating, ``n`` along ``axis``.
    axis : int
        The categories' axis in the broadcast shape (``dim`` is an alias).
    validate : bool
        Raise ValueError naming the first slice whose logits are invalid or
        whose ``indices`` repeat a category or are out of ``0..n-1`` (without
        it, such a slice is NaN).

    Returns
    -------
    array
        The log probability, the broadcast shape without ``axis``, the
        logits' dtype. ``-inf`` where a masked (``-inf``) category is drawn.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> p = np.array([0.5, 0.3, 0.2])
    >>> lp = gx.plackett_luce_log_prob(np.array([2, 0]), np.log(p))
    >>> round(float(np.exp(lp)), 6)   # 0.2 * 0.5 / 0.8
    0.125
    """
    axis = _dim_alias(axis, dim)
    be = backend_of(logits)
    xp = be.namespace
    _same_backend(be, indices, "indices")
    if not xp.isdtype(indices.dtype, "integral"):
        raise TypeError(f"indices must have an integer dtype, got {indices.dtype}")
    be, xp, x, wdt, axis, idx = _broadcast_prepare(indices, logits, axis, "indices")
    n = be.shape(x)[axis]
    k = be.shape(idx)[axis]
    if isinstance(n, int) and isinstance(k, int) and not 1 <= k <= n:
        raise ValueError(f"indices must hold 1..{n} categories along axis {axis}, got {k}")
    xl = xp.moveaxis(x, axis, -1)  # (..., n)
    il = xp.moveaxis(idx, axis, -1)  # (..., k)
    dev = be.device(x)
    cats = xp.arange(n, dtype=il.dtype, device=dev)
    steps = xp.arange(k, dtype=il.dtype, device=dev)
    picked = xp.expand_dims(il, axis=-1) == cats  # (..., k, n): step j drew category c
    theta = xp.expand_dims(xl, axis=-2)  # (..., 1, n)
    times = xp.sum(xp.astype(picked, il.dtype), axis=-2)  # (..., n) draws of each category
    hits = xp.sum(xp.astype(picked, il.dtype), axis=-1)  # (..., k) 0 if out of range
    bad = xp.any(times > 1, axis=-1) | xp.any(hits == 0, axis=-1)
    if validate:
        _validate_logits(be, xp, x, axis)
        _require_concrete(be, il)
        _raise_bad_slice(be, xp, bad, axis, "indices",
                         "repeats a category or holds one outside 0..n-1")
    # the step at which each category was drawn; k if never
    pos = xp.sum(xp.where(picked, xp.expand_dims(steps, axis=-1), xp.zeros_like(steps[:1])),
                 axis=-2)
    pos = xp.where(times == 0, xp.full_like(pos, k), pos)
    remaining = xp.expand_dims(pos, axis=-2) >= xp.expand_dims(steps, axis=-1)  # (..., k, n)
    chosen = xp.sum(xp.where(picked, theta, xp.zeros_like(theta)), axis=-1)  # (..., k)
    lse, _ = _lse_safe(xp, be, xp.where(remaining, theta, xp.full_like(theta, -_INF)), -1)
    lse = xp.squeeze(lse, axis=-1)
    # a masked category drawn: probability 0, the constant -inf (no gradient)
    never = chosen == -_INF
    terms = xp.where(never, xp.zeros_like(chosen),
                     chosen - xp.where(never, xp.zeros_like(lse), lse))
    lp = xp.sum(terms, axis=-1)
    lp = xp.where(xp.any(never, axis=-1), xp.full_like(lp, -_INF), lp)
    lp = xp.where(bad, xp.full_like(lp, math.nan), lp)
    return _finish(xp, lp, logits.dtype)


# ---------------------------------------------------------------------------
# Gumbel noise given its argmax
# ---------------------------------------------------------------------------
def _conditional(be: Any, xp: Any, x: Array, hot: Array, g: Array, axis: int) -> Array:
    """Perturbed logits given their argmax, from standard Gumbel noise ``g``
    (the top-down construction of Maddison et al. 2014, as Paulus et al.
    2021 write it with one noise array):

    * the maximum ``T = logsumexp(x) + g[index]`` is Gumbel(logsumexp(x));
    * every other ``z_i = -log(exp(-T) + exp(-G_i))``, ``G_i = x_i + g_i``
      (a Gumbel(x_i) truncated below ``T``), computed as
      ``T - softplus(T - G_i)`` and kept strictly below ``T`` (rounding
      alone could tie it), so the argmax is ``index`` always.

    ``hot`` is the boolean one-hot of ``index`` along ``axis`` (a negative
    axis, so that ``g`` may carry leading sample axes); a ``-inf`` logit
    stays ``-inf``. A slice whose index is masked or out of range is NaN.
    """
    masked = x == -_INF
    t_max = _lse(xp, be, x, axis) + xp.sum(xp.where(hot, g, xp.zeros_like(g)), axis=axis,
                                            keepdims=True)
    others = xp.where(masked, xp.zeros_like(x), x) + g
    z = t_max - _softplus(xp, t_max - others)
    eps = float(xp.finfo(x.dtype).eps)
    tiny = float(xp.finfo(x.dtype).smallest_normal)
    z = xp.minimum(z, t_max - (xp.abs(t_max) * eps + tiny))
    z = xp.where(hot, t_max, xp.where(masked, xp.full_like(z, -_INF), z))
    ok = xp.any(hot & ~masked, axis=axis, keepdims=True)
    return xp.where(ok, z, xp.full_like(z, math.nan))


def conditional_gumbel(
    logits: ArrayT,
    index: Array,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
) -> ArrayT:
    """Gumbel-perturbed logits conditioned on their argmax.

    A draw of ``logits + g`` (``g`` standard Gumbel) from its law given
    ``argmax(logits + g) == index``, by the top-down construction (Maddison,
    Tarlow and Minka 2014): the maximum is ``Gumbel(logsumexp(logits))`` at
    ``index``, and every other entry is ``Gumbel(logits_i)`` truncated below
    it. It is the building block of Gumbel-Rao (:func:`gumbel_rao`) and
    REBAR. Gradients flow to ``logits`` by reparameterisation.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating; ``-inf`` entries stay
        ``-inf``.
    index : array
        Integer indices with the logits' shape without ``axis`` (the
        conditioning argmax of each slice). A slice whose index is out of
        range or points at a ``-inf`` logit is NaN.
    axis : int
        The categories' axis (``dim`` is an alias).
    rng : None, int, native generator or PortableRNG
        The noise's source (one standard Gumbel per entry).

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``logits``; its argmax
        along ``axis`` is ``index``, always (entries other than the maximum
        are kept strictly below it).

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> logits = np.zeros((1000, 4))
    >>> z = gx.conditional_gumbel(logits, np.full(1000, 2), rng=0)
    >>> bool((z.argmax(axis=-1) == 2).all())
    True
    """
    axis = _dim_alias(axis, dim)
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    _same_backend(be, index, "index")
    if not xp.isdtype(index.dtype, "integral"):
        raise TypeError(f"index must have an integer dtype, got {index.dtype}")
    if index.ndim != len(shape) - 1:
        raise ValueError(f"index must have the logits' shape without axis {axis}, got "
                         f"{tuple(be.shape(index))} for logits {tuple(shape)}")
    ix = be.whole_axis(xp.expand_dims(index, axis=axis), axis)
    hot = ix == _axis_iota(xp, shape[axis], len(shape), axis, index.dtype, be.device(index))
    g = _noise(be, xp, rng, None, shape, wdt, be.device(logits), x)
    z = _conditional(be, xp, x, hot, g, axis - len(shape))
    return _finish(xp, z, logits.dtype, log_space=True)
