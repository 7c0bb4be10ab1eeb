"""Gradient estimators for categorical samples, written once against ``xp``.

Each returns, forward, the exact one-hot ``D`` of the Gumbel-max sample of
the logits, and differs only in the gradient that reaches the logits. The
gradient is set by stop-gradient algebra, ``D + (f - stop_gradient(f))``
with a surrogate ``f`` whose Jacobian is the estimator's: ``f - f`` is
exactly 0 forward, so the value is exactly ``D``, and no custom autograd
function is needed (the same code differentiates on PyTorch, TensorFlow and
JAX, also under ``torch.compile``, ``tf.function`` and ``jax.jit``). On
backends without autograd the surrogate is not computed.
"""

from __future__ import annotations

import numbers
from typing import Any

from ._api import _noise, _prepare, _straight_through, _tau, _validate_logits
from ._family import (
    ArrayT,
    _check_tau_values,
    _conditional,
    _dim_alias,
    _finish,
    _one_hot_argmax,
    _poison,
    _scaled,
    _tau_arg,
)

Array = Any
RNG = Any

__all__ = ["reinmax", "gumbel_rao"]

_INF = float("inf")


def _softmax(be: Any, xp: Any, s: Array, t: Any, axis: int) -> Array:
    """``softmax(s / t)`` along ``axis``, shifted, masked entries exactly 0."""
    z, _ = _scaled(be, xp, s, t, axis)
    e = xp.exp(z)
    return e / xp.sum(e, axis=axis, keepdims=True)


def reinmax(
    logits: ArrayT,
    tau: float | Array = 1.0,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """ReinMax: a one-hot categorical sample with a second-order gradient.

    Liu, Zhao, Gao, Jiang and Chen (2023), "Bridging Discrete and
    Backpropagation: Straight-Through and Beyond". Forward: the exact one-hot
    ``D`` of the Gumbel-max sample of ``logits`` (the law is
    ``softmax(logits)``; ``tau`` does not change it). Backward, with
    ``pi_0 = softmax(logits)`` and ``pi_1 = (softmax(logits / tau) + D) / 2``,
    the vector-Jacobian product for a cotangent ``c`` is::

        2 (diag(pi_1) - pi_1 pi_1^T) c  -  1/2 (diag(pi_0) - pi_0 pi_0^T) c

    the authors' estimator (their ``reinmax`` package, given the same
    one-hot sample). It is written as ``D + f - stop_gradient(f)`` with
    ``f(logits) = M logits`` for the symmetric matrix ``M`` above held
    constant, so it differentiates on every autograd framework.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating; ``-inf`` masks a
        category (never drawn, zero gradient).
    tau : float or array
        Temperature ``>= 1`` as in the paper (ValueError below 1); an array
        gives one value per slice and is checked when its values can be read.
        No gradient reaches it.
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
        The exact one-hot sample: same namespace, device, shape and dtype as
        ``logits``.

    Examples
    --------
    >>> import torch, gumbelxp as gx
    >>> logits = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> d = gx.reinmax(logits, tau=2.0, rng=0)
    >>> d.sum().item(), sorted(set(d.flatten().tolist()))
    (1.0, [0.0, 1.0])
    >>> (d * torch.tensor([[0.0, 1.0, 2.0]])).sum().backward()
    >>> logits.grad.shape
    torch.Size([1, 3])
    """
    axis = _dim_alias(axis, dim)
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    tau = _tau_arg(tau)
    t = _tau(be, xp, tau, len(shape), axis, wdt)
    if isinstance(t, float):
        if t < 1.0:
            raise ValueError(f"ReinMax needs tau >= 1, got {tau}")
    elif be.is_concrete(t):
        _check_tau_values(be, xp, t, least=1.0, strict=False)
    if validate:
        _validate_logits(be, xp, x, axis)
    s = x + _noise(be, xp, rng, noise, shape, wdt, be.device(logits), x)
    d = _one_hot_argmax(be, xp, s, axis) + _poison(xp, s, axis)
    if be.has_autograd and be.needs_grad(logits):
        xs = be.stop_gradient(x)
        t_sg = t if isinstance(t, float) else be.stop_gradient(t)
        pi0 = _softmax(be, xp, xs, 1.0, axis)
        pi1 = 0.5 * (_softmax(be, xp, xs, t_sg, axis) + be.stop_gradient(d))
        # the logits shifted by a constant (M annihilates constants), masked ones 0
        m = be.stop_gradient(xp.max(x, axis=axis, keepdims=True))
        m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
        masked = x == -_INF
        v = xp.where(masked, xp.zeros_like(x), x - m)

        def centred(p: Array) -> Array:  # (diag(p) - p p^T) v
            pv = p * v
            return pv - p * xp.sum(pv, axis=axis, keepdims=True)

        f = 2.0 * centred(pi1) - 0.5 * centred(pi0)
        d = d + (f - be.stop_gradient(f))
    return _finish(xp, d, logits.dtype)


def gumbel_rao(
    logits: ArrayT,
    tau: float | Array = 1.0,
    axis: int = -1,
    *,
    dim: int | None = None,
    samples: int = 10,
    rng: RNG = None,
    validate: bool = False,
) -> ArrayT:
    """Gumbel-Rao Monte Carlo: straight-through with its noise integrated out.

    Paulus, Maddison and Krause (2021), "Rao-Blackwellizing the
    Straight-Through Gumbel-Softmax Gradient Estimator". Forward: the exact
    one-hot ``D`` of the Gumbel-max sample of ``logits``. Backward: the
    straight-through Gumbel-Softmax gradient averaged over ``samples``
    perturbations drawn from the law of the noise given ``D``
    (:func:`conditional_gumbel`), i.e. the gradient of
    ``mean_s softmax((logits + g_s) / tau)`` with each ``g_s`` held constant.
    Same expected gradient as straight-through, lower variance.

    All noise comes from ``rng`` in one draw of shape ``(samples + 1,) +
    logits.shape``: the first ``logits.shape`` block is the forward sample's,
    the others are the conditional samples' (so the forward sample with a
    ``PortableRNG`` is the one :func:`gumbel_max` draws from the same
    generator state).

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating; ``-inf`` masks a
        category (never drawn, zero gradient).
    tau : float or array
        Temperature > 0 (one value per slice if an array; gradients reach it).
    axis : int
        The categories' axis (``dim`` is an alias).
    samples : int
        Number of conditional samples averaged in the backward pass (>= 1).
    rng : None, int, native generator or PortableRNG
        The noise's source.
    validate : bool
        Raise ValueError naming the first slice with NaN, ``+inf`` or only
        ``-inf`` logits instead of returning NaN there.

    Returns
    -------
    array
        The exact one-hot sample: same namespace, device, shape and dtype as
        ``logits``.

    Examples
    --------
    >>> import torch, gumbelxp as gx
    >>> logits = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> d = gx.gumbel_rao(logits, tau=0.5, samples=100, rng=0)
    >>> d.sum().item()
    1.0
    >>> (d * torch.tensor([[0.0, 1.0, 2.0]])).sum().backward()
    >>> abs(logits.grad.sum().item()) < 1e-6   # a softmax Jacobian: rows sum to 0
    True
    """
    axis = _dim_alias(axis, dim)
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    samples = int(samples)
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    t = _tau(be, xp, _tau_arg(tau), len(shape), axis, wdt)
    if validate:
        _validate_logits(be, xp, x, axis)
        _check_tau_values(be, xp, t)
    g = _noise(be, xp, rng, None, (samples + 1, *shape), wdt, be.device(logits), None)
    s = x + be.whole_axis(g[0, ...], axis)
    d = _one_hot_argmax(be, xp, s, axis)
    d = d + _poison(xp, s, axis)
    if be.has_autograd and be.needs_grad(logits, tau):
        ax = axis - len(shape)  # negative: the same axis with a leading samples axis
        xs = be.stop_gradient(x)
        gc = be.whole_axis(g[1:, ...], axis + 1)
        z = _conditional(be, xp, xs, d > 0, gc, ax)
        # the conditional noise, constant; 0 at masked entries (z = x = -inf there)
        masked = xs == -_INF
        noise = be.stop_gradient(xp.where(masked, xp.zeros_like(z), z - xp.where(
            masked, xp.zeros_like(xs), xs)))
        soft = xp.mean(_softmax(be, xp, x + noise, t, ax), axis=0)
        d = _straight_through(be, soft, d)
    return _finish(xp, d, logits.dtype)

