"""The relaxations beyond Gumbel-Softmax, written once against the array API.

Log-space samples (ExpConcrete), the binary Concrete (Gumbel-sigmoid),
relaxed subsets (Xie and Ermon 2019) and Gumbel noise conditioned on its
argmax (Maddison, Tarlow and Minka 2014). Their densities are in
:mod:`gumbelxp._densities`, the gradient estimators built on them in
:mod:`gumbelxp._estimators`; the formulas they share, and the promises those
keep (no overflow, exact masks, NaN confined to bad slices), in
:mod:`gumbelxp._ops`.
"""

from __future__ import annotations

import math
from typing import Any

from . import _ops as ops
from ._checks import (
    axis_arg,
    check_elementwise,
    check_input,
    elementwise_tau,
    same_backend,
    tau_arg,
    validate_elements,
    validate_logits,
    validate_tau,
)
from ._random import gumbel_noise, logistic_noise
from ._sampling import check_k
from ._types import RNG, Array, ArrayT

__all__ = ["gumbel_log_softmax", "gumbel_sigmoid", "relaxed_topk", "conditional_gumbel"]

INF = math.inf


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
    inp = check_input(logits, axis_arg(axis, dim))
    t = tau_arg(inp, tau)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
    be, xp, ax = inp.be, inp.xp, inp.axis
    z, masked = ops.log_scores(be, inp.x + gumbel_noise(inp, rng, noise), t, ax)
    lse = ops.logsumexp(be, z, ax)
    # a masked entry is the constant -inf, no cotangent flows back from it
    # (but a slice with nothing unmasked, lse = -inf, stays NaN)
    return inp.result(xp.where(masked & (lse > -INF), z, z - lse), log_space=True)


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
    inp = check_elementwise(logits)
    t = elementwise_tau(inp, tau)
    if validate:
        validate_elements(inp)
        validate_tau(inp, t)
    be, xp, x = inp.be, inp.xp, inp.x
    inf = xp.isinf(x)  # +-inf logits: the constants 1 and 0
    s = xp.where(inf, xp.zeros_like(x), x + logistic_noise(inp, rng, noise))
    y = xp.where(inf, xp.astype(x > 0, inp.wdt), ops.sigmoid(be, s / t))
    if hard:
        y = ops.straight_through(be, y, xp.astype((s > 0) | (x == INF), inp.wdt))
    return inp.result(y)


def _log1m_softmax(be: Any, z: Any, lse: Any, log_a: Any, axis: int) -> Any:
    """``log(1 - softmax(z))`` elementwise, accurate everywhere: ``log1p(-a)``
    where ``a <= 1/2`` (every entry but the slice's argmax), and
    ``logsumexp(others) - logsumexp(z)`` at the argmax, whose ``a`` may round
    to 1. At an argmax with no other finite entry it is 0 (nothing else can
    take the mass, so the entry is not removed); at ``-inf`` entries 0."""
    xp = be.namespace
    hot = ops.argmax_one_hot(be, z, axis) > 0
    a = xp.exp(xp.where(hot, xp.zeros_like(log_a) - 1.0, log_a))  # <= 1/2 off the argmax
    rest = xp.log1p(-a)
    others = ops.logsumexp(be, xp.where(hot, xp.full_like(z, -INF), z), axis)
    only = others == -INF
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
    inp = check_input(logits, axis_arg(axis, dim))
    k = check_k(inp, k)
    t = tau_arg(inp, tau)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
    be, xp, ax = inp.be, inp.xp, inp.axis
    s = inp.x + gumbel_noise(inp, rng, noise)
    y_hard = None
    if hard:  # the k-hot of gumbel_topk's indices for the same noise
        order = xp.argsort(s, axis=ax, descending=True, stable=True)
        y_hard = xp.astype(xp.argsort(order, axis=ax, stable=True) < k, inp.wdt)
        if not be.needs_grad(logits, tau):
            return inp.result(y_hard + ops.poison(be, s, ax))
    y = None
    for j in range(k):
        z, _ = ops.log_scores(be, s, t, ax)
        lse = ops.logsumexp(be, z, ax)
        log_a = z - lse
        a = xp.exp(log_a)
        y = a if y is None else y + a
        if j + 1 < k:
            s = s + _log1m_softmax(be, z, lse, log_a, ax)
    return inp.result(ops.straight_through(be, y, y_hard) if hard else y)


def conditional(be: Any, x: Any, hot: Any, g: Any, axis: int) -> Any:
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
    xp = be.namespace
    masked = x == -INF
    t_max = ops.logsumexp(be, x, axis) + xp.sum(xp.where(hot, g, xp.zeros_like(g)), axis=axis,
                                            keepdims=True)
    others = xp.where(masked, xp.zeros_like(x), x) + g
    z = t_max - ops.softplus(be, t_max - others)
    eps = float(xp.finfo(x.dtype).eps)
    tiny = float(xp.finfo(x.dtype).smallest_normal)
    z = xp.minimum(z, t_max - (xp.abs(t_max) * eps + tiny))
    z = xp.where(hot, t_max, xp.where(masked, xp.full_like(z, -INF), z))
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
    inp = check_input(logits, axis_arg(axis, dim))
    be, xp, ax, shape = inp.be, inp.xp, inp.axis, inp.shape
    same_backend(be, index, "index")
    if not xp.isdtype(index.dtype, "integral"):
        raise TypeError(f"index must have an integer dtype, got {index.dtype}")
    if len(be.shape(index)) != len(shape) - 1:
        raise ValueError(f"index must have the logits' shape without axis {ax}, got "
                         f"{tuple(be.shape(index))} for logits {tuple(shape)}")
    ix = be.whole_axis(xp.expand_dims(index, axis=ax), ax)
    hot = ix == ops.iota(be, shape[ax], len(shape), ax, index.dtype, be.device(index))
    g = gumbel_noise(inp, rng, None)
    return inp.result(conditional(be, inp.x, hot, g, ax - len(shape)), log_space=True)
