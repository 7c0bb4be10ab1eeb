"""The public functions of API.md, each written once against the array API.

Everything framework-specific is a method of the array's backend adapter
(:mod:`gumbelxp.backends`); nothing here names a framework.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._philox import PortableRNG
from .backends import Backend, backend_of, backend_of_namespace, get_backend, loaded_backends

Array = Any
RNG = Any  # None | int | native generator | PortableRNG

__all__ = [
    "gumbel",
    "gumbel_softmax",
    "gumbel_max",
    "gumbel_topk",
    "straight_through",
    "relaxed_log_prob",
]


# ---------------------------------------------------------------------------
# argument checks (Python-level and free, except ``validate=True``)
# ---------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not hasattr(v, "shape")


def _float_dtype(xp: Any, dtype: Any, what: str) -> Any:
    """The dtype computed in: ``dtype`` itself, or float32 for half precision."""
    if not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"{what} must have a real floating dtype, got {dtype}")
    return xp.float32 if xp.finfo(dtype).bits < 32 else dtype


def _norm_axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if ndim == 0:
        raise ValueError("logits must have at least one dimension (the categories)")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return int(axis) % ndim


def _check_axis_size(n: Any, axis: int) -> None:
    if isinstance(n, int) and n == 0:
        raise ValueError(f"axis {axis} has no categories (size 0)")


def _tau(be: Backend, xp: Any, tau: Any, ndim: int, axis: int, dtype: Any) -> Any:
    """A Python float, or an array that broadcasts against the logits with one
    value per slice along ``axis`` (shape without ``axis`` is expanded)."""
    if _is_number(tau):
        t = float(tau)
        if not (math.isfinite(t) and t > 0):
            raise ValueError(f"tau must be finite and > 0, got {tau}")
        return t
    if isinstance(tau, bool) or tau is None:
        raise TypeError(f"tau must be a positive number or an array, got {tau!r}")
    _same_backend(be, tau, "tau, if not a number,")
    t = xp.astype(tau, dtype)
    if t.ndim == ndim - 1:
        t = xp.expand_dims(t, axis=axis)
    elif t.ndim > ndim or (t.ndim == ndim and be.shape(t)[axis] != 1):
        raise ValueError(
            f"tau of shape {tuple(be.shape(tau))} must hold one value per slice along "
            f"axis {axis}: a scalar, the logits' shape without that axis, or size 1 on it"
        )
    return t


def _same_backend(be: Backend, a: Any, what: str) -> Backend:
    """TypeError unless ``a`` is an array of ``be``, the logits' backend."""
    try:
        abe = backend_of(a)
    except TypeError:
        abe = None
    if abe is not be:
        raise TypeError(f"{what} must be a {be.name} array like the logits, "
                        f"got {type(a).__module__}.{type(a).__qualname__}")
    return abe


def _check_rng(be: Backend, rng: RNG) -> RNG:
    if rng is None or isinstance(rng, PortableRNG):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        rng = int(rng)
        if not 0 <= rng < 2**64:
            raise ValueError(f"an int seed must be in [0, 2**64), got {rng}")
        return rng
    if be.is_generator(rng):
        return rng
    for other in loaded_backends():
        if other is not be and other.is_generator(rng):
            raise TypeError(
                f"rng is a {other.generator_name} but the input is a {be.name} array: "
                f"pass a {be.generator_name}, an int seed or gumbelxp.PortableRNG"
            )
    raise TypeError(
        f"rng must be None, an int seed, a {be.generator_name} or gumbelxp.PortableRNG; "
        f"got {type(rng).__name__}"
    )


def _validate_logits(be: Backend, xp: Any, x: Array, axis: int, name: str = "logits") -> None:
    """``validate=True``: raise ValueError naming the first slice along
    ``axis`` that holds a NaN or +inf, or only -inf."""
    if not be.is_concrete(x):
        raise ValueError(
            "validate=True reads the values of the logits, which is impossible while "
            "tracing (jax.jit, tf.function graph mode): validate outside, or check "
            "the output for NaN"
        )
    inf = float("inf")
    poisoned = xp.any(xp.isnan(x) | (x == inf), axis=axis)
    empty = xp.all(x == -inf, axis=axis)
    bad = poisoned | empty
    if not bool(xp.any(bad)):
        return
    first = int(xp.argmax(xp.astype(xp.reshape(bad, (-1,)), xp.int32)))
    why = ("holds NaN or +inf" if bool(xp.reshape(poisoned, (-1,))[first])
           else "is all -inf (every category masked)")
    idx = []
    for d in reversed(tuple(be.shape(bad))):
        idx.append(str(first % d))
        first //= d
    idx = idx[::-1]
    idx.insert(axis, ":")
    raise ValueError(f"{name}[{', '.join(idx)}] {why}; first bad slice along axis {axis}")


# ---------------------------------------------------------------------------
# noise
# ---------------------------------------------------------------------------
def _resolve_namespace(like: Any, xp: Any, device: Any) -> tuple[Backend, Any, Any]:
    if like is not None:
        be = backend_of(like)
        if xp is not None and backend_of_namespace(xp) is not be:
            raise TypeError(f"like= is a {be.name} array but xp= names another namespace")
        if device is None:
            device = be.device(like)
    elif xp is not None:
        be = backend_of_namespace(xp)
    else:
        be = get_backend("numpy")
    return be, be.namespace, device


def _resolve_dtype(be: Backend, xp: Any, like: Any, dtype: Any) -> Any:
    if dtype is None:
        dtype = like.dtype if like is not None else be.default_float()
    elif isinstance(dtype, str):
        dtype = getattr(xp, dtype)
    _float_dtype(xp, dtype, "dtype")
    return dtype


def _draw(be: Backend, xp: Any, rng: RNG, shape: tuple, dtype: Any, device: Any,
          like: Any = None) -> Array:
    """Standard Gumbel noise of ``shape`` in float ``dtype`` (float32/64);
    ``like``, the array it is for, lends its layout (Dask: its chunks)."""
    rng = be.as_counter_rng(rng)
    if isinstance(rng, PortableRNG):
        return be.portable_noise(rng, shape, dtype, device, like=like)
    return be.neg_(be.log_(be.exponential(rng, shape, dtype, device)))


def _noise(be: Backend, xp: Any, rng: RNG, noise: Any, shape: tuple, dtype: Any,
           device: Any, like: Any = None) -> Array:
    if noise is None:
        return _draw(be, xp, _check_rng(be, rng), shape, dtype, device, like)
    if rng is not None:
        raise TypeError("give either rng= or noise=, not both")
    ns = tuple(_same_backend(be, noise, "noise").shape(noise))
    # an entry may be symbolic (an unknown dimension while tracing): compare
    # only the known ones, since a traced comparison has no truth value
    if len(ns) != len(shape) or any(isinstance(m, int) and isinstance(n, int) and m != n
                                    for m, n in zip(ns, shape, strict=True)):
        raise ValueError(f"noise has shape {ns}, logits have {tuple(shape)}")
    _float_dtype(xp, noise.dtype, "noise")
    return xp.astype(noise, dtype)


# ---------------------------------------------------------------------------
# the algorithms
# ---------------------------------------------------------------------------
def _scores(be: Backend, xp: Any, s: Array, tau: Any, axis: int) -> Array:
    """``(s - max(s)) / tau``: shifted first so that no finite input can
    overflow, whatever ``tau``; the shift carries no gradient (softmax is
    shift-invariant) and is NaN exactly on slices with NaN, +inf or only -inf.
    ``s`` is a temporary: it may be overwritten."""
    z = be.sub_(s, be.stop_gradient(xp.max(s, axis=axis, keepdims=True)))
    if isinstance(tau, float):
        if tau != 1.0:
            z = be.div_(z, tau)
    else:
        # an array tau: a -inf mask stays -inf without ever computing -inf / tau,
        # whose gradient for tau (0 * inf) would be NaN
        masked = z == -math.inf
        z = xp.where(masked, z, xp.where(masked, xp.zeros_like(z), z) / tau)
    return z


def _gumbel_argmax(be: Backend, xp: Any, x: Array, rng: RNG, noise: Any, shape: tuple,
                   dtype: Any, device: Any, axis: int, poison: bool = False):
    """``argmax(x + g)`` along ``axis`` (kept), and with ``poison`` per slice
    0, or NaN where ``softmax(x + g)`` is NaN (a NaN, +inf or only -inf)."""
    if noise is None and not isinstance(rng := be.as_counter_rng(_check_rng(be, rng)),
                                        PortableRNG):
        # x + g = x - log(E), E ~ Exp(1): the smallest log(E) - x wins; in place
        r = be.sub_(be.log_(be.exponential(rng, shape, dtype, device)), x)
        idx, v = xp.argmin(r, axis=axis, keepdims=True), xp.min if poison else None
    else:
        r = x + _noise(be, xp, rng, noise, shape, dtype, device, x)
        idx, v = xp.argmax(r, axis=axis, keepdims=True), xp.max if poison else None
    if not poison:
        return idx, None
    v = v(r, axis=axis, keepdims=True)  # finite exactly on the valid slices
    return idx, v - v


def _straight_through(be: Backend, y: Array, y_hard: Array) -> Array:
    """``y_hard`` (an exact one-hot) forward, ``y``'s gradient backward.
    Written ``y_hard + (y - stop_gradient(y))`` so the forward value is
    exactly one-hot (``y - y`` is exactly 0), and NaN where ``y`` is NaN."""
    return y_hard + (y - be.stop_gradient(y))


def gumbel(
    shape: tuple[int, ...] | int,
    *,
    like: Array | None = None,
    xp: Any = None,
    dtype: Any = None,
    device: Any = None,
    loc: float | Array = 0.0,
    scale: float | Array = 1.0,
    rng: RNG = None,
) -> Array:
    """Samples of the Gumbel(loc, scale) distribution.

    Parameters
    ----------
    shape : tuple of int
        Shape of the result.
    like : array, optional
        An array whose namespace, dtype and device are the defaults.
    xp : module or str, optional
        The namespace (``numpy``, ``torch``, ``jax.numpy``, ...) or its name
        (``"numpy"``, ``"torch"``, ``"jax"``, ``"tensorflow"``, ``"cupy"``,
        ``"array_api_strict"``, ``"dask"``). Neither ``like`` nor ``xp``:
        NumPy.
    dtype : dtype, optional
        A real floating dtype; default ``like.dtype`` or the namespace's
        default float. Half precision is computed in float32.
    device : device, optional
        Where to draw; default ``like``'s device or the namespace default.
    loc, scale : float or array
        Location and scale (``scale > 0``).
    rng : None, int, native generator or PortableRNG
        See API.md, "Random number generators".

    Returns
    -------
    array
        ``loc - scale * log(-log(u))`` with ``u`` uniform on the open
        interval (0, 1): always finite.

    Examples
    --------
    >>> import gumbelxp as gx
    >>> g = gx.gumbel((100_000,), rng=0)
    >>> abs(float(g.mean()) - 0.5772) < 0.02
    True
    """
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    shape = tuple(shape)
    be, xp_, device = _resolve_namespace(like, xp, device)
    dtype = _resolve_dtype(be, xp_, like, dtype)
    if _is_number(scale) and not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    if _is_number(loc) and not math.isfinite(loc):
        raise ValueError(f"loc must be finite, got {loc}")
    wdt = _float_dtype(xp_, dtype, "dtype")
    g = _draw(be, xp_, _check_rng(be, rng), shape, wdt, device, like)
    if not (_is_number(scale) and scale == 1.0):
        g = g * (scale if _is_number(scale) else xp_.astype(scale, wdt))
    if not (_is_number(loc) and loc == 0.0):
        g = g + (loc if _is_number(loc) else xp_.astype(loc, wdt))
    return g if g.dtype == dtype else xp_.astype(g, dtype)


def _prepare(logits: Array, axis: Any, what: str = "logits"):
    be = backend_of(logits)
    xp = be.namespace
    wdt = _float_dtype(xp, logits.dtype, what)
    shape = be.shape(logits)
    axis = _norm_axis(axis, len(shape))
    _check_axis_size(shape[axis], axis)
    x = logits if logits.dtype == wdt else xp.astype(logits, wdt)
    return be, xp, be.whole_axis(x, axis), wdt, shape, axis


def gumbel_softmax(
    logits: Array,
    tau: float | Array = 1.0,
    hard: bool = False,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> Array:
    """A Gumbel-Softmax (Concrete) sample: ``softmax((logits + g) / tau)``.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating; ``-inf`` masks a
        category (it is never chosen and gets exactly 0).
    tau : float or array
        Temperature > 0; an array gives one value per slice along ``axis``
        (the logits' shape without ``axis``, or size 1 on it). Gradients
        reach an array ``tau``.
    hard : bool
        If True the forward value is an exact one-hot of the sample's argmax
        and the gradient is the soft sample's (straight-through).
    axis : int
        The categories' axis. ``dim`` is an alias (PyTorch).
    rng : None, int, native generator or PortableRNG
        The noise's source (see API.md).
    noise : array, optional
        Precomputed standard Gumbel noise of the logits' shape instead of
        ``rng``.
    validate : bool
        Raise ValueError naming the first slice with a NaN, +inf or only
        -inf logits, instead of returning NaN on that slice.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``logits``; each slice
        sums to 1.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> y = gx.gumbel_softmax(np.log([[0.1, 0.2, 0.7]]), tau=0.5, rng=0)
    >>> bool(np.isclose(y.sum(), 1.0)), y.shape
    (True, (1, 3))
    >>> gx.gumbel_softmax(np.zeros((2, 4)), hard=True, rng=0).sum(axis=-1)
    array([1., 1.])
    """
    if dim is not None:
        if axis != -1 and axis != dim:
            raise TypeError("give axis= or its alias dim=, not both")
        axis = dim
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    t = _tau(be, xp, tau, len(shape), axis, wdt)
    if validate:
        _validate_logits(be, xp, x, axis)
        if not isinstance(t, float) and not bool(xp.all((t > 0) & (t < float("inf")))):
            raise ValueError("tau must be finite and > 0 everywhere")
    if noise is None:  # a fused kernel, where the backend has one
        y = be.fused_gumbel_softmax(logits, t, hard, axis, _check_rng(be, rng))
        if y is not None:
            return y
    dev = be.device(logits)
    if hard and isinstance(t, float) and not be.needs_grad(logits):
        # nothing to differentiate: the Gumbel-max one-hot alone (tau > 0
        # cannot change an argmax), NaN on the slices where the soft sample is
        idx, nan = _gumbel_argmax(be, xp, x, rng, noise, shape, wdt, dev, axis, True)
        y = be.one_hot(idx, x, axis, nan)
    elif noise is None and isinstance(t, float) and t == 1.0 and not isinstance(
            rng := be.as_counter_rng(_check_rng(be, rng)), PortableRNG):
        # tau = 1: softmax(x + g) = softmax(x - log E) with E = exp(-g) ~ Exp(1),
        # which the backend computes with one log fewer
        y = be.softmax_exp_noise(x, be.exponential(rng, shape, wdt, dev), axis)
        if hard:
            y = _straight_through(be, y, be.one_hot_argmax(y, y, axis))
    else:
        z = _scores(be, xp, x + _noise(be, xp, rng, noise, shape, wdt, dev, x), t, axis)
        # the one-hot from the scores, before softmax may overwrite them
        y_hard = be.one_hot_argmax(z, z, axis) if hard else None
        y = be.softmax(z, axis)
        if hard:
            y = _straight_through(be, y, y_hard)
    return y if y.dtype == logits.dtype else xp.astype(y, logits.dtype)


def gumbel_max(
    logits: Array,
    axis: int = -1,
    *,
    keepdims: bool = False,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> Array:
    """One categorical sample per slice: ``argmax(logits + g, axis)``.

    By the Gumbel-max theorem, index ``i`` is drawn with probability
    ``softmax(logits)[i]``.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities along ``axis``; ``-inf`` is never drawn.
    axis : int
        The categories' axis.
    keepdims : bool
        Keep ``axis`` with size 1.
    rng, noise, validate
        As in :func:`gumbel_softmax`.

    Returns
    -------
    array
        Integer indices (the namespace's default index dtype).

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> idx = gx.gumbel_max(np.broadcast_to(np.log([0.25, 0.75]), (10_000, 2)), rng=0)
    >>> bool(abs(idx.mean() - 0.75) < 0.02)
    True
    """
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    if validate:
        _validate_logits(be, xp, x, axis)
    if noise is None:
        i = be.fused_gumbel_max(logits, axis, keepdims, _check_rng(be, rng))
        if i is not None:
            return i
    idx, _ = _gumbel_argmax(be, xp, x, rng, noise, shape, wdt, be.device(logits), axis)
    return idx if keepdims else xp.squeeze(idx, axis=axis)


def gumbel_topk(
    logits: Array,
    k: int,
    axis: int = -1,
    *,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> Array:
    """``k`` categories per slice sampled without replacement (Gumbel-top-k).

    The indices of the ``k`` largest ``logits + g`` in decreasing order: the
    order in which sequential sampling without replacement would draw them
    (Kool, van Hoof and Welling, 2019).

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities along ``axis``.
    k : int
        How many, ``1 <= k <= n``. If fewer than ``k`` categories are
        unmasked, the masked ones come last.
    axis : int
        The categories' axis; the result has size ``k`` there.
    rng, noise, validate
        As in :func:`gumbel_softmax`.

    Returns
    -------
    array
        Integer indices, shape of ``logits`` with ``k`` on ``axis``.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> s = gx.gumbel_topk(np.zeros(5), 5, rng=0)
    >>> sorted(s.tolist())
    [0, 1, 2, 3, 4]
    """
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    n = shape[axis]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if isinstance(n, int) and not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n} (the size of axis {axis}), got {k}")
    if validate:
        _validate_logits(be, xp, x, axis)
    g = _noise(be, xp, rng, noise, shape, wdt, be.device(logits), x)
    order = xp.argsort(x + g, axis=axis, descending=True, stable=True)
    sl = [slice(None)] * len(shape)
    sl[axis] = slice(0, int(k))
    return order[tuple(sl)]


def straight_through(y_soft: Array, axis: int = -1) -> Array:
    """Straight-through estimator: the exact one-hot of ``argmax(y_soft)``
    forward, the gradient of ``y_soft`` backward.

    Parameters
    ----------
    y_soft : array
        Soft samples (e.g. from :func:`gumbel_softmax`), real floating.
    axis : int
        The categories' axis.

    Returns
    -------
    array
        Same shape, dtype, namespace and device as ``y_soft``. Ties go to the
        first index.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> gx.straight_through(np.array([0.2, 0.5, 0.3]))
    array([0., 1., 0.])
    """
    be, xp, _, _, _, axis = _prepare(y_soft, axis, "y_soft")
    return _straight_through(be, y_soft, be.one_hot_argmax(y_soft, y_soft, axis))


def relaxed_log_prob(y: Array, logits: Array, tau: float | Array, axis: int = -1) -> Array:
    """Log density of the Concrete (relaxed one-hot categorical) distribution.

    Maddison, Mnih and Teh (2017), eq. 2, for ``y`` on the open simplex::

        log p(y) = log((n-1)!) + (n-1) log tau
                   + sum_k (logits_k - (tau + 1) log y_k)
                   - n logsumexp_k(logits_k - tau log y_k)

    Parameters
    ----------
    y : array
        Points of the simplex along ``axis`` (positive, summing to 1).
    logits : array
        Unnormalised log-probabilities, broadcastable with ``y``.
    tau : float or array
        Temperature > 0 (one value per slice if an array).
    axis : int
        The categories' axis.

    Returns
    -------
    array
        The log density, shape of ``y`` without ``axis``, dtype of ``logits``.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> lp = gx.relaxed_log_prob(np.array([0.5, 0.5]), np.zeros(2), 1.0)
    >>> round(float(lp), 6)  # 0 + 0 + 4 log 2 - 2 log 4: uniform density on the 1-simplex
    0.0
    """
    be, xp, x, wdt, shape, axis = _prepare(logits, axis)
    _same_backend(be, y, "y")
    _float_dtype(xp, y.dtype, "y")
    yw = xp.astype(y, wdt)
    if yw.ndim == len(shape):
        yw = be.whole_axis(yw, axis)
    y_shape = be.shape(yw)
    n = y_shape[axis] if len(y_shape) == len(shape) else shape[axis]
    t = _tau(be, xp, tau, len(shape), axis, wdt)
    log_y = xp.log(yw)
    a = x - t * log_y
    m = be.stop_gradient(xp.max(a, axis=axis, keepdims=True))
    lse = xp.log(xp.sum(xp.exp(a - m), axis=axis, keepdims=True)) + m
    lp = (xp.sum(x - (t + 1.0) * log_y, axis=axis, keepdims=True) - n * lse
          + (n - 1) * (math.log(t) if isinstance(t, float) else xp.log(t))
          + math.lgamma(n))
    lp = xp.squeeze(lp, axis=axis)
    return lp if lp.dtype == logits.dtype else xp.astype(lp, logits.dtype)

