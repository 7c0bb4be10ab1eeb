"""Log densities of the relaxed distributions, written once against the array API.

Their arguments broadcast against each other as distribution parameters and
values do in ``torch.distributions`` and TensorFlow Probability (NumPy's
rules): one logits vector with many points, a temperature per slice, ...;
``axis`` counts in the broadcast shape.
"""

from __future__ import annotations

import math
from typing import Any

from ._checks import (
    Input,
    axis_arg,
    broadcast_shapes,
    norm_axis,
    same_backend,
    tau_arg,
    validate_logits,
    validate_tau,
    validate_where,
    work_dtype,
)
from ._types import Array, ArrayT
from .backends import backend_of

__all__ = ["relaxed_log_prob"]


def broadcast_input(logits: Any, values: Any, axis: Any, name: str) -> tuple[Input, Any]:
    """The logits and a value array checked and brought to their common rank,
    both in the dtype computed in (their promoted dtype; float32 for half
    precision), with ``axis`` normalised in the broadcast shape."""
    be = backend_of(logits)
    xp = be.namespace
    work_dtype(xp, logits.dtype, "logits")
    same_backend(be, values, name)
    work_dtype(xp, values.dtype, name)
    dtype = xp.result_type(logits.dtype, values.dtype)
    wdt = work_dtype(xp, dtype, "logits")
    ls, vs = be.shape(logits), be.shape(values)
    shape = broadcast_shapes(ls, vs)
    axis = norm_axis(axis, len(shape))
    arrays = []
    for a, s in ((logits, ls), (values, vs)):
        a = a if a.dtype == wdt else xp.astype(a, wdt)
        for _ in range(len(shape) - len(s)):
            a = xp.expand_dims(a, axis=0)
        arrays.append(be.whole_axis(a, axis))
    return Input(be, xp, arrays[0], dtype, wdt, shape, axis), arrays[1]


def logsumexp(inp: Input, a: Any) -> Any:
    """``log(sum(exp(a)))`` along the axis, kept; the max shift carries no
    gradient. ``-inf`` for a slice of only ``-inf``."""
    xp = inp.xp
    m = inp.be.stop_gradient(xp.max(a, axis=inp.axis, keepdims=True))
    m = xp.where(m == -math.inf, xp.zeros_like(m), m)  # an all -inf slice: log(0) = -inf
    return xp.log(xp.sum(xp.exp(a - m), axis=inp.axis, keepdims=True)) + m


def log_of(inp: Input, t: Any) -> Any:
    return math.log(t) if isinstance(t, float) else inp.xp.log(t)


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
          - n * logsumexp(inp, x - t * log_y)
          + (n - 1) * log_of(inp, t) + math.lgamma(n))
    return inp.result(xp.squeeze(lp, axis=ax))
