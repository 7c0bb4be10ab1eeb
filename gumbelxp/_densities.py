"""Log densities of the relaxed distributions, written once against the array API.

Their arguments broadcast against each other as distribution parameters and
values do in ``torch.distributions`` and TensorFlow Probability (NumPy's
rules): one logits vector with many points, a temperature per slice, ...;
``axis`` counts in the broadcast shape.
"""

from __future__ import annotations

import math
from typing import Any

from . import _ops as ops
from ._checks import (
    Input,
    axis_arg,
    broadcast_shapes,
    check_elementwise,
    elementwise_tau,
    norm_axis,
    same_backend,
    tau_arg,
    validate_elements,
    validate_logits,
    validate_tau,
    validate_where,
    work_dtype,
)
from ._types import Array, ArrayT
from .backends import backend_of

__all__ = ["relaxed_log_prob", "exp_relaxed_log_prob", "relaxed_bernoulli_log_prob",
           "plackett_luce_log_prob"]

INF = math.inf


def broadcast_input(logits: ArrayT, values: Any, axis: Any, name: str,
                    integral: bool = False) -> tuple[Input[ArrayT], Any]:
    """The logits and a value array checked and brought to their common rank,
    both in the dtype computed in (their promoted dtype, float32 for half
    precision; integer ``values`` keep theirs), with ``axis`` normalised in
    the broadcast shape."""
    be = backend_of(logits)
    xp = be.namespace
    work_dtype(xp, logits.dtype, "logits")
    same_backend(be, values, name)
    if integral:
        if not xp.isdtype(values.dtype, "integral"):
            raise TypeError(f"{name} must have an integer dtype, got {values.dtype}")
        dtype = logits.dtype
    else:
        work_dtype(xp, values.dtype, name)
        dtype = xp.result_type(logits.dtype, values.dtype)
    wdt = work_dtype(xp, dtype, "logits")
    ls, vs = be.shape(logits), be.shape(values)
    nd = max(len(ls), len(vs))
    axis = norm_axis(axis, nd)
    shape: tuple[Any, ...]
    if integral:  # indices: k along the axis, the logits n; the other axes broadcast
        pad: list[tuple[Any, ...]] = [(1,) * (nd - len(v)) + tuple(v) for v in (ls, vs)]
        shape = broadcast_shapes(*(p[:axis] + (1,) + p[axis + 1:] for p in pad))
        shape = shape[:axis] + (pad[0][axis],) + shape[axis + 1:]
    else:
        shape = broadcast_shapes(ls, vs)
    arrays: list[Any] = []
    for a, s in ((logits, ls), (values, vs)):
        if not (integral and a is values) and a.dtype != wdt:
            a = xp.astype(a, wdt)
        for _ in range(len(shape) - len(s)):
            a = xp.expand_dims(a, axis=0)
        arrays.append(be.whole_axis(a, axis))
    return Input(be, xp, arrays[0], dtype, wdt, shape, axis), arrays[1]


def relaxed_log_prob(
    y: Array,
    logits: ArrayT,
    tau: float | Array,
    axis: int = -1,
    *,
    dim: int | None = None,
    validate: bool = False,
) -> ArrayT:
    """Log density of the Concrete (relaxed one-hot categorical) distribution.

    Maddison, Mnih and Teh (2017), eq. 2, at a point ``y`` of the open
    simplex, with ``n`` categories::

        log p(y) = log((n-1)!) + (n-1) log tau
                   + sum_k (logits_k - (tau + 1) log y_k)
                   - n logsumexp_k(logits_k - tau log y_k)

    the same as ``torch.distributions.RelaxedOneHotCategorical(tau,
    logits=logits).log_prob(y)``.

    Parameters
    ----------
    y : array
        Points of the simplex along ``axis`` (positive, summing to 1).
    logits : array
        Unnormalised log-probabilities; ``y`` and ``logits`` broadcast
        against each other (e.g. logits ``(K,)`` with points ``(N, K)``).
    tau : float or array
        Temperature > 0: a number, or an array with one value per slice of
        the broadcast shape.
    axis : int
        The categories' axis in the broadcast shape. ``dim`` is an alias.
    validate : bool
        Check the values: ValueError naming the first slice where ``y`` is
        off the simplex (not positive, or a sum off 1 by more than the
        square root of the dtype's epsilon), where the logits hold a NaN or
        +inf or only -inf, or an array ``tau`` that is not finite and > 0.

    Returns
    -------
    array
        The log density: the broadcast shape without ``axis``, in the
        promoted dtype of ``y`` and ``logits``.

    Raises
    ------
    TypeError
        Integer or boolean ``y`` or logits, or arrays of another framework.
    ValueError
        Shapes that do not broadcast, a bad ``tau`` (as in
        :func:`gumbel_softmax`), ``axis`` out of range, or (``validate``) bad
        values.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> lp = gx.relaxed_log_prob(np.array([0.5, 0.5]), np.zeros(2), 1.0)
    >>> round(float(lp), 6)  # the uniform density on the 1-simplex
    0.0
    >>> gx.relaxed_log_prob(np.full((3, 4), 0.25), np.zeros(4), 0.5).shape
    (3,)
    """
    inp, yw = broadcast_input(logits, y, axis_arg(axis, dim), "y")
    xp, ax, x = inp.xp, inp.axis, inp.x
    t = tau_arg(inp, tau)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
        eps = float(xp.finfo(inp.wdt).eps)
        off = ((xp.abs(xp.sum(yw, axis=ax) - 1.0) > math.sqrt(eps))
               | xp.any(~(yw > 0), axis=ax))
        validate_where(inp.be, xp, off, ax, "y", "is not on the simplex (positive, summing to 1)")
    n = inp.shape[ax]
    log_y = xp.log(yw)
    lp = (xp.sum(x - (t + 1.0) * log_y, axis=ax, keepdims=True)
          - n * ops.logsumexp(inp.be, x - t * log_y, ax)
          + (n - 1) * ops.log_of(inp.be, t) + math.lgamma(n))
    return inp.result(xp.squeeze(lp, axis=ax))


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
    inp, ly = broadcast_input(logits, log_y, axis_arg(axis, dim), "log_y")
    be, xp, x, ax, wdt = inp.be, inp.xp, inp.x, inp.axis, inp.wdt
    t = tau_arg(inp, tau)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
        tol = math.sqrt(float(xp.finfo(log_y.dtype).eps))
        lse_y = xp.squeeze(ops.logsumexp(be, ly, ax), axis=ax)
        validate_where(be, xp, ~(xp.abs(lse_y) <= tol), ax, "log_y",
                       f"has logsumexp != 0 (tolerance {tol:.1e})")
    masked = x == -INF  # absent categories: where twice, so no -inf meets an inf
    xs = xp.where(masked, xp.zeros_like(x), x)
    a = xs - t * xp.where(masked, xp.zeros_like(ly), ly)
    a = xp.where(masked, xp.full_like(a, -INF), a)
    count = xp.sum(xp.astype(~masked, wdt), axis=ax, keepdims=True)
    sum_a = xp.sum(xp.where(a == -INF, xp.zeros_like(a), a), axis=ax, keepdims=True)
    lp = (_log_factorial_minus_one(be, count, be.shape(x)[ax], x.ndim, ax, wdt)
          + (count - 1.0) * ops.log_of(be, t) + sum_a - count * ops.logsumexp(be, a, ax))
    return inp.result(xp.squeeze(lp, axis=ax))


def _log_factorial_minus_one(be: Any, count: Any, n: Any, ndim: int, axis: int,
                             dtype: Any) -> Any:
    """``log((count - 1)!)`` per slice for an integer-valued float ``count``
    in ``1..n`` (kept axis): the sum of ``log j`` for ``j < count``, over an
    ``arange(n)`` along ``axis`` (the standard has no ``lgamma``)."""
    xp = be.namespace
    j = ops.iota(be, n, ndim, axis, dtype, be.device(count))
    terms = xp.where(j < count, xp.log(xp.maximum(j, xp.ones_like(j))), xp.zeros_like(j))
    return xp.sum(terms, axis=axis, keepdims=True)


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
    inp = check_elementwise(logits)
    be, xp, x = inp.be, inp.xp, inp.x
    same_backend(be, y, "y")
    work_dtype(xp, y.dtype, "y")
    yw = xp.astype(y, inp.wdt)
    t = elementwise_tau(inp, tau)
    if validate:
        validate_elements(inp)
        validate_tau(inp, t)
        validate_where(be, xp, ~((yw > 0) & (yw < 1)), None, "y",
                       "is outside (0, 1) (first bad element)")
    log_y, log_1my = xp.log(yw), xp.log1p(-yw)
    masked = x == -INF  # a point mass at 0: -inf
    d = xp.where(masked, xp.zeros_like(x), x) - t * (log_y - log_1my)
    lp = d - 2.0 * ops.softplus(be, d) - log_y - log_1my + ops.log_of(be, t)
    return inp.result(xp.where(masked, xp.full_like(lp, -INF), lp))


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
    inp, idx = broadcast_input(logits, indices, axis_arg(axis, dim), "indices", integral=True)
    be, xp, x, axis = inp.be, inp.xp, inp.x, inp.axis
    n, k = be.shape(x)[axis], be.shape(idx)[axis]
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
        validate_logits(inp)
        validate_where(be, xp, bad, axis, "indices",
                       "repeats a category or holds one outside 0..n-1")
    # the step at which each category was drawn; k if never
    pos = xp.sum(xp.where(picked, xp.expand_dims(steps, axis=-1), xp.zeros_like(steps[:1])),
                 axis=-2)
    pos = xp.where(times == 0, xp.full_like(pos, k), pos)
    remaining = xp.expand_dims(pos, axis=-2) >= xp.expand_dims(steps, axis=-1)  # (..., k, n)
    chosen = xp.sum(xp.where(picked, theta, xp.zeros_like(theta)), axis=-1)  # (..., k)
    lse = ops.logsumexp(be, xp.where(remaining, theta, xp.full_like(theta, -INF)), -1)
    lse = xp.squeeze(lse, axis=-1)
    # a masked category drawn: probability 0, the constant -inf (no gradient)
    never = chosen == -INF
    terms = xp.where(never, xp.zeros_like(chosen),
                     chosen - xp.where(never, xp.zeros_like(lse), lse))
    lp = xp.sum(terms, axis=-1)
    lp = xp.where(xp.any(never, axis=-1), xp.full_like(lp, -INF), lp)
    return inp.result(xp.where(bad, xp.full_like(lp, math.nan), lp))
