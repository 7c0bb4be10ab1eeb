"""The formulas every algorithm shares, written once against the array API.

Each takes the backend adapter ``be`` (its ``namespace`` is ``xp``) and an
``axis`` (the categories', possibly negative so that leading sample axes can
come first). They keep three promises the algorithms rely on:

* no finite input overflows: exponentials only ever see shifted scores
  (``<= 0``), and shifts carry no gradient (softmax does not depend on them);
* a ``-inf`` entry (a masked category) gives an exact 0 (or ``-inf`` in log
  space) and never meets ``-inf - -inf`` or ``0 * inf`` where a value or a
  gradient could see it ("where twice": the unsafe operand is replaced
  before the operation, the result after it);
* a slice holding a NaN or ``+inf``, or only ``-inf``, is NaN, and no other
  slice is touched.
"""

from __future__ import annotations

import math
from typing import Any

INF = math.inf


def shifted(be: Any, s: Any, axis: int) -> Any:
    """``s - max(s)`` along ``axis``: <= 0; NaN exactly on the bad slices."""
    return s - be.stop_gradient(be.namespace.max(s, axis=axis, keepdims=True))


def divide_by_tau(be: Any, z: Any, t: Any) -> Any:
    """``z / t`` for shifted scores ``z <= 0`` and a checked ``t`` (a float
    > 0, or an array), with no NaN for any valid ``t``. A float so small that
    ``1 / t`` overflows gives the limit ``t -> 0`` (``-inf`` below the
    maximum). An array ``t``, or a float whose reciprocal is subnormal
    (compilers divide by multiplying with the reciprocal, and may flush it to
    zero), never divides a ``-inf``: a mask stays ``-inf`` and the gradient
    for ``t`` is not NaN."""
    xp = be.namespace
    if isinstance(t, float):
        if t == 1.0:
            return z
        fi = xp.finfo(z.dtype)
        if t < float(fi.smallest_normal):
            if 1.0 / t <= float(fi.max):
                return z * (1.0 / t)
            return xp.where(z < 0, xp.full_like(z, -INF), z)
        if t < 1.0 / float(fi.smallest_normal):
            return z / t
    masked = z == -INF
    return xp.where(masked, z, xp.where(masked, xp.zeros_like(z), z) / t)


def scores(be: Any, s: Any, t: Any, axis: int) -> Any:
    """``(s - max s) / t``: the scores whose softmax is ``softmax(s / t)``."""
    return divide_by_tau(be, shifted(be, s, axis), t)


def softmax(be: Any, z: Any, axis: int) -> Any:
    """``softmax(z)`` along ``axis``, for shifted scores ``z`` (<= 0)."""
    xp = be.namespace
    e = xp.exp(z)
    return e / xp.sum(e, axis=axis, keepdims=True)


def logsumexp(be: Any, a: Any, axis: int) -> Any:
    """``log(sum(exp(a)))`` along ``axis`` (kept), shifted by the maximum (no
    gradient through the shift). A slice of only ``-inf`` gives ``-inf`` with
    a zero gradient (``log`` never sees the zero sum); NaN or ``+inf`` in a
    slice gives NaN or ``+inf``."""
    xp = be.namespace
    m = be.stop_gradient(xp.max(a, axis=axis, keepdims=True))
    empty = m == -INF
    m = xp.where(empty, xp.zeros_like(m), m)
    s = xp.sum(xp.exp(a - m), axis=axis, keepdims=True)
    lse = xp.log(xp.where(empty, xp.ones_like(s), s)) + m
    return xp.where(empty, xp.full_like(lse, -INF), lse)


def log_of(be: Any, t: Any) -> Any:
    """``log(t)`` of a float or an array ``t``."""
    return math.log(t) if isinstance(t, float) else be.namespace.log(t)


def softplus(be: Any, x: Any) -> Any:
    """``log(1 + exp(x))``, stable for every ``x`` (finite gradients)."""
    xp = be.namespace
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid(be: Any, x: Any) -> Any:
    """``1 / (1 + exp(-x))``, with ``exp`` only of non-positive numbers."""
    xp = be.namespace
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def iota(be: Any, n: Any, ndim: int, axis: int, dtype: Any, device: Any) -> Any:
    """``arange(n)`` shaped to lie along ``axis`` of an ``ndim``-d array."""
    xp = be.namespace
    shape = [1] * ndim
    shape[axis] = n
    return xp.reshape(xp.arange(n, dtype=dtype, device=device), tuple(shape))


def one_hot(be: Any, idx: Any, like: Any, axis: int) -> Any:
    """Exactly one-hot, ``like``'s shape and dtype: 1 where the position
    along ``axis`` equals ``idx`` (indices with ``axis`` kept, size 1)."""
    ar = iota(be, be.shape(like)[axis], like.ndim, axis % like.ndim, idx.dtype,
              be.device(like))
    return be.namespace.astype(idx == ar, like.dtype)


def argmax_one_hot(be: Any, s: Any, axis: int) -> Any:
    """The exact one-hot of ``argmax(s)`` along ``axis`` (ties: the first)."""
    return one_hot(be, be.namespace.argmax(s, axis=axis, keepdims=True), s, axis)


def poison(be: Any, s: Any, axis: int) -> Any:
    """0 per slice, or NaN where ``s`` holds NaN or ``+inf`` or only ``-inf``
    (axis kept): added to an output, it makes exactly those slices NaN."""
    v = be.namespace.max(s, axis=axis, keepdims=True)
    return v - v


def straight_through(be: Any, y: Any, y_hard: Any) -> Any:
    """``y_hard`` forward, ``y``'s gradient backward: ``y_hard + (y -
    stop_gradient(y))``, exactly ``y_hard`` in value (``y - y`` is 0) and
    NaN where ``y`` is."""
    return y_hard + (y - be.stop_gradient(y))


def topk_indices(be: Any, s: Any, k: int, axis: int) -> Any:
    """Indices of the ``k`` largest ``s`` along ``axis``, largest first (a
    stable sort: ties in index order)."""
    order = be.namespace.argsort(s, axis=axis, descending=True, stable=True)
    sl = [slice(None)] * s.ndim
    sl[axis] = slice(0, k)
    return order[tuple(sl)]


def log_scores(be: Any, s: Any, t: Any, axis: int) -> tuple[Any, Any]:
    """``(z, masked)``: the scores ``(s - max s) / t`` for log space, finite
    wherever ``s`` is (clamped at the dtype's lowest value, so no ``t``
    underflows them to ``-inf``), and the constant ``-inf`` (no gradient)
    where ``s`` is ``-inf`` (``masked``)."""
    xp = be.namespace
    masked = s == -INF
    z = xp.clip(scores(be, s, t, axis), min=float(xp.finfo(s.dtype).min))
    return xp.where(masked, xp.full_like(z, -INF), z), masked
