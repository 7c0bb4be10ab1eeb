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

from . import _ops as ops
from ._checks import axis_arg, check_input, is_number, tau_arg, validate_logits, validate_tau
from ._random import gumbel_noise
from ._relaxed import conditional
from ._types import RNG, Array, ArrayT

__all__ = ["reinmax", "gumbel_rao"]

INF = float("inf")


def _softmax(be: Any, s: Any, t: Any, axis: int) -> Any:
    """``softmax(s / t)`` along ``axis``, masked entries exactly 0."""
    return ops.softmax(be, ops.scores(be, s, t, axis), axis)


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
    The forward value is a one-hot sample; on PyTorch, JAX or TensorFlow
    arrays the same call carries ReinMax's gradient to ``logits`` (e.g.
    ``loss.backward()`` fills ``logits.grad`` for a ``torch.Tensor``).

    >>> import numpy as np, gumbelxp as gx
    >>> d = gx.reinmax(np.array([[1.0, 2.0, 3.0]]), tau=2.0, rng=0)
    >>> float(d.sum()), sorted(set(d.ravel().tolist()))
    (1.0, [0.0, 1.0])
    """
    inp = check_input(logits, axis_arg(axis, dim))
    t = tau_arg(inp, tau)
    if isinstance(t, float):
        if t < 1.0:
            raise ValueError(f"ReinMax needs tau >= 1, got {tau}")
    elif inp.be.is_concrete(t):
        validate_tau(inp, t, least=1.0, strict=False)
    if validate:
        validate_logits(inp)
    be, xp, x, ax = inp.be, inp.xp, inp.x, inp.axis
    s = x + gumbel_noise(inp, rng, noise)
    d = ops.argmax_one_hot(be, s, ax) + ops.poison(be, s, ax)
    if be.needs_grad(logits):
        xs = be.stop_gradient(x)
        pi0 = _softmax(be, xs, 1.0, ax)
        pi1 = 0.5 * (_softmax(be, xs, t if is_number(t) else be.stop_gradient(t), ax)
                     + be.stop_gradient(d))
        # the logits shifted by a constant (M annihilates constants), masked ones 0
        m = be.stop_gradient(xp.max(x, axis=ax, keepdims=True))
        m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
        v = xp.where(x == -INF, xp.zeros_like(x), x - m)

        def centred(p: Any) -> Any:  # (diag(p) - p p^T) v
            pv = p * v
            return pv - p * xp.sum(pv, axis=ax, keepdims=True)

        f = 2.0 * centred(pi1) - 0.5 * centred(pi0)
        d = d + (f - be.stop_gradient(f))
    return inp.result(d)


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
    The forward value is a one-hot sample; on PyTorch, JAX or TensorFlow
    arrays the same call carries the Gumbel-Rao gradient to ``logits``, the
    average over ``samples`` conditional draws (a softmax Jacobian: each
    slice's gradient sums to 0).

    >>> import numpy as np, gumbelxp as gx
    >>> d = gx.gumbel_rao(np.array([[1.0, 2.0, 3.0]]), tau=0.5, samples=100, rng=0)
    >>> float(d.sum()), sorted(set(d.ravel().tolist()))
    (1.0, [0.0, 1.0])
    """
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    inp = check_input(logits, axis_arg(axis, dim))
    t = tau_arg(inp, tau)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
    be, xp, x, ax, shape = inp.be, inp.xp, inp.x, inp.axis, inp.shape
    g = gumbel_noise(inp, rng, None, (int(samples) + 1, *shape))
    s = x + be.whole_axis(g[0, ...], ax)
    d = ops.argmax_one_hot(be, s, ax) + ops.poison(be, s, ax)
    if be.needs_grad(logits, tau):
        nax = ax - len(shape)  # negative: the same axis with a leading samples axis
        xs = be.stop_gradient(x)
        z = conditional(be, xs, d > 0, be.whole_axis(g[1:, ...], ax + 1), nax)
        # the conditional noise, constant; 0 at masked entries (z = x = -inf there)
        masked = xs == -INF
        noise = be.stop_gradient(xp.where(masked, xp.zeros_like(z), z - xp.where(
            masked, xp.zeros_like(xs), xs)))
        soft = xp.mean(_softmax(be, x + noise, t, nax), axis=0)
        d = ops.straight_through(be, soft, d)
    return inp.result(d)
