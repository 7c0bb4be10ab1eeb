"""Gumbel noise, Gumbel-max, Gumbel-top-k and Gumbel-Softmax, each written
once against the array API.

Each public function checks its arguments, offers the call to the backend's
whole-call fast path where it has one (:func:`gumbelxp.backends.fast_path`),
and otherwise runs the generic version below, which reads like its formula
and is the reference every fast path is tested against.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from . import _ops as ops
from ._checks import (
    Input,
    axis_arg,
    check_input,
    check_rng,
    finite_number,
    is_number,
    positive_number,
    same_backend,
    tau_arg,
    validate_logits,
    validate_tau,
    work_dtype,
)
from ._random import draw, gumbel_noise
from ._types import RNG, Array, ArrayT, Namespace
from .backends import fast_path, resolve

if TYPE_CHECKING:
    from ._types import NumpyArray, NumpyIndices

__all__ = ["gumbel", "gumbel_softmax", "gumbel_max", "gumbel_topk", "straight_through"]


def gumbel_softmax_generic(inp: Input[Any], g: Any, t: Any, hard: bool) -> Any:
    """``softmax((x + g) / t)``, straight-through one-hot with ``hard`` (the
    argmax of ``x + g``, taken before dividing: a huge ``t`` would round the
    scores into ties)."""
    be, ax = inp.be, inp.axis
    s = ops.shifted(be, inp.x + g, ax)
    y = ops.softmax(be, ops.divide_by_tau(be, s, t), ax)
    return ops.straight_through(be, y, ops.argmax_one_hot(be, s, ax)) if hard else y


# ---------------------------------------------------------------------------
# the public functions
# ---------------------------------------------------------------------------
@overload
def gumbel(shape: int | Sequence[int], *, like: ArrayT, xp: Namespace | None = None,
           dtype: Any = None, device: Any = None, loc: float | Array = 0.0,
           scale: float | Array = 1.0, rng: RNG = None) -> ArrayT: ...
@overload
def gumbel(shape: int | Sequence[int], *, like: None = None, xp: None = None,
           dtype: Any = None, device: Any = None, loc: float | Array = 0.0,
           scale: float | Array = 1.0, rng: RNG = None) -> NumpyArray: ...
@overload
def gumbel(shape: int | Sequence[int], *, like: None = None, xp: Namespace,
           dtype: Any = None, device: Any = None, loc: float | Array = 0.0,
           scale: float | Array = 1.0, rng: RNG = None) -> Any: ...
def gumbel(
    shape: int | Sequence[int],
    *,
    like: Array | None = None,
    xp: Namespace | None = None,
    dtype: Any = None,
    device: Any = None,
    loc: float | Array = 0.0,
    scale: float | Array = 1.0,
    rng: RNG = None,
) -> Any:
    """Samples of the Gumbel(``loc``, ``scale``) distribution.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the result. ``loc`` and ``scale`` must broadcast to it.
    like : array, optional
        An array whose namespace, dtype and device are the defaults.
    xp : module or str, optional
        The namespace (``numpy``, ``torch``, ``jax.numpy``, ...) or its name
        (``"numpy"``, ``"torch"``, ``"jax"``, ``"tensorflow"``, ``"cupy"``,
        ``"array_api_strict"``, ``"dask"``). Neither ``like`` nor ``xp``:
        NumPy.
    dtype : dtype or str, optional
        A real floating dtype; default ``like.dtype`` or the namespace's
        default float. Half precision is computed in float32.
    device : device, optional
        Where to draw; default ``like``'s device or the namespace's default.
    loc, scale : float or array
        Location and scale (``scale > 0``): numbers, or arrays of the same
        framework that broadcast to ``shape``.
    rng : None, int, native generator or PortableRNG
        The source of randomness: None draws from the framework's default
        generator (JAX has none: pass a key), an int is a seed, a native
        generator (``numpy.random.Generator``, ``torch.Generator``,
        ``tf.random.Generator``, a JAX key, ...) is used and advanced, and a
        :class:`PortableRNG` gives the same numbers on every framework.

    Returns
    -------
    array
        ``loc - scale * log(-log(u))`` with ``u`` uniform on the open
        interval (0, 1): always finite. To a type checker: ``like``'s type,
        a NumPy array given neither ``like`` nor ``xp``, ``Any`` given ``xp``.

    Raises
    ------
    ValueError
        ``scale`` not finite and > 0 or ``loc`` not finite (numbers), or
        ``loc`` / ``scale`` arrays that do not broadcast to ``shape``.
    TypeError
        A non-floating ``dtype``, or an ``rng`` this framework cannot use.

    Examples
    --------
    >>> import gumbelxp as gx
    >>> g = gx.gumbel((100_000,), rng=0)
    >>> g.shape, abs(float(g.mean()) - 0.5772) < 0.02   # Euler's constant
    ((100000,), True)
    """
    dims = (int(shape),) if isinstance(shape, (int, numbers.Integral)) else tuple(shape)
    be, device, dtype = resolve(like, xp, device, dtype)
    ns = be.namespace
    wdt = work_dtype(ns, dtype, "dtype")
    params: list[Any] = []
    for name, v, check in (("scale", scale, positive_number), ("loc", loc, finite_number)):
        if is_number(v):
            params.append(check(v, name))
            continue
        same_backend(be, v, name + ", if not a number,")
        vs = tuple(be.shape(v))
        if len(vs) > len(dims) or any(
                a != 1 and a != b for a, b in zip(vs[::-1], dims[::-1], strict=False)):
            raise ValueError(f"{name} of shape {vs} does not broadcast to the shape {dims}")
        params.append(ns.astype(v, wdt))
    sc, lc = params
    g = draw(be, check_rng(be, rng), "gumbel", dims, wdt, device, like)
    if not (isinstance(sc, float) and sc == 1.0):
        g = g * sc
    if not (isinstance(lc, float) and lc == 0.0):
        g = g + lc
    return g if g.dtype == dtype else ns.astype(g, dtype)


def gumbel_softmax(
    logits: ArrayT,
    tau: float | Array = 1.0,
    hard: bool = False,
    axis: int = -1,
    *,
    dim: int | None = None,
    eps: float | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """A Gumbel-Softmax (Concrete) sample: ``softmax((logits + g) / tau)``.

    ``g`` is standard Gumbel noise. As ``tau -> 0`` the sample tends to the
    one-hot of the Gumbel-max sample, a draw from ``softmax(logits)``.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities, real floating. ``-inf`` masks a
        category: it is never chosen and gets exactly 0.
    tau : float or array
        Temperature > 0: a Python or NumPy number, or an array of the logits'
        framework with one value per slice along ``axis`` (the logits' shape
        without ``axis``, or size 1 on it). Gradients reach an array ``tau``.
    hard : bool
        Forward an exact one-hot of the sample's argmax, backward the soft
        sample's gradient (straight-through).
    axis : int
        The categories' axis. ``dim`` is an alias (PyTorch's name).
    eps : float, optional
        Accepted and ignored, so that calls written for
        ``torch.nn.functional.gumbel_softmax`` run unchanged.
    rng : None, int, native generator or PortableRNG
        The noise's source, as in :func:`gumbel`.
    noise : array, optional
        Standard Gumbel noise of the logits' shape, instead of ``rng``.
    validate : bool
        Check the values: raise ValueError naming the first slice with a NaN
        or +inf logit or only -inf ones (and an array ``tau`` that is not
        finite and > 0) instead of returning NaN on that slice.

    Returns
    -------
    array
        The logits' namespace, device, shape and dtype; each slice sums to 1.
        A slice with a NaN or +inf logit, or only -inf ones, is NaN (only
        that slice).

    Raises
    ------
    TypeError
        Integer or boolean logits; ``tau``, ``noise`` or ``rng`` of another
        framework; both ``rng`` and ``noise``; both ``axis`` and ``dim``.
    ValueError
        A number ``tau`` not finite and > 0, an array ``tau`` not of one value
        per slice, ``axis`` out of range, ``noise`` of another shape, or
        (with ``validate=True``) bad values.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> y = gx.gumbel_softmax(np.log([[0.1, 0.2, 0.7]]), tau=0.5, rng=0)
    >>> y.shape, bool(np.isclose(y.sum(), 1.0))
    ((1, 3), True)
    >>> gx.gumbel_softmax(np.zeros((2, 4)), hard=True, rng=0).sum(axis=-1)
    array([1., 1.])
    """
    inp = check_input(logits, axis_arg(axis, dim))
    t = tau_arg(inp, tau)
    hard = bool(hard)
    if validate:
        validate_logits(inp)
        validate_tau(inp, t)
    fast = fast_path(inp.be, "gumbel_softmax") if noise is None else None
    if fast is not None:
        y = fast(inp.x, t, hard, inp.axis, check_rng(inp.be, rng))
        if y is not None:
            return inp.result(y)
    return inp.result(gumbel_softmax_generic(inp, gumbel_noise(inp, rng, noise), t, hard))


# A NumPy array's type names its dtype: the indices are int64 whatever the
# logits are (the other frameworks' array types do not carry a dtype).
@overload
def gumbel_max(logits: NumpyArray, axis: int = -1, *, dim: int | None = None,
               keepdims: bool = False, num_samples: int | None = None, rng: RNG = None,
               noise: Array | None = None, validate: bool = False) -> NumpyIndices: ...
@overload
def gumbel_max(logits: ArrayT, axis: int = -1, *, dim: int | None = None,
               keepdims: bool = False, num_samples: int | None = None, rng: RNG = None,
               noise: Array | None = None, validate: bool = False) -> ArrayT: ...
def gumbel_max(
    logits: ArrayT,
    axis: int = -1,
    *,
    dim: int | None = None,
    keepdims: bool = False,
    num_samples: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """Categorical samples by the Gumbel-max trick: ``argmax(logits + g, axis)``.

    Index ``i`` is drawn with probability ``softmax(logits)[i]``.

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities along ``axis``; ``-inf`` is never drawn.
    axis : int
        The categories' axis. ``dim`` is an alias.
    keepdims : bool
        Keep ``axis`` with size 1 (one sample per slice).
    num_samples : int, optional
        Draw this many independent samples per slice: the result has the
        logits' shape with ``axis`` replaced by ``num_samples``, as
        ``tf.random.categorical`` and ``torch.multinomial(...,
        replacement=True)`` give for 2-D logits.
    rng : None, int, native generator or PortableRNG
        As in :func:`gumbel`.
    noise : array, optional
        Standard Gumbel noise instead of ``rng``: the logits' shape, or with
        ``num_samples`` the logits' shape with ``num_samples`` inserted
        before ``axis``.
    validate : bool
        As in :func:`gumbel_softmax`.

    Returns
    -------
    array
        Integer indices in the namespace's default index dtype. A bad slice
        (NaN, +inf or only -inf) gives an arbitrary index.

    Raises
    ------
    TypeError, ValueError
        As :func:`gumbel_softmax`; ValueError for ``num_samples < 1``.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> idx = gx.gumbel_max(np.log([0.25, 0.75]), num_samples=10_000, rng=0)
    >>> idx.shape, bool(abs(idx.mean() - 0.75) < 0.02)
    ((10000,), True)
    """
    inp = check_input(logits, axis_arg(axis, dim))
    if validate:
        validate_logits(inp)
    xp, ax = inp.xp, inp.axis
    if num_samples is not None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
            raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        shape = (*inp.shape[:ax], int(num_samples), *inp.shape[ax:])
        g = gumbel_noise(inp, rng, noise, shape)
        return inp.typed(xp.argmax(xp.expand_dims(inp.x, axis=ax) + g, axis=ax + 1))
    fast = fast_path(inp.be, "gumbel_max") if noise is None else None
    if fast is not None:
        i = fast(inp.x, ax, bool(keepdims), check_rng(inp.be, rng))
        if i is not None:
            return inp.typed(i)
    return inp.typed(xp.argmax(inp.x + gumbel_noise(inp, rng, noise), axis=ax,
                               keepdims=bool(keepdims)))


@overload
def gumbel_topk(logits: NumpyArray, k: int, axis: int = -1, *,
                dim: int | None = None, rng: RNG = None, noise: Array | None = None,
                validate: bool = False) -> NumpyIndices: ...
@overload
def gumbel_topk(logits: ArrayT, k: int, axis: int = -1, *, dim: int | None = None,
                rng: RNG = None, noise: Array | None = None,
                validate: bool = False) -> ArrayT: ...
def gumbel_topk(
    logits: ArrayT,
    k: int,
    axis: int = -1,
    *,
    dim: int | None = None,
    rng: RNG = None,
    noise: Array | None = None,
    validate: bool = False,
) -> ArrayT:
    """``k`` categories per slice drawn without replacement (Gumbel-top-k).

    The indices of the ``k`` largest ``logits + g``, largest first: the order
    in which drawing one at a time without replacement from
    ``softmax(logits)`` would pick them (Kool, van Hoof and Welling, 2019).

    Parameters
    ----------
    logits : array
        Unnormalised log-probabilities along ``axis``.
    k : int
        How many, ``1 <= k <= n``. If fewer than ``k`` categories are
        unmasked, the masked ones come last.
    axis : int
        The categories' axis; the result has size ``k`` there. ``dim`` is
        an alias.
    rng, noise, validate
        As in :func:`gumbel_softmax`.

    Returns
    -------
    array
        Integer indices, the logits' shape with ``k`` on ``axis``.

    Raises
    ------
    TypeError, ValueError
        As :func:`gumbel_softmax`; ValueError for ``k`` outside ``1..n``.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> s = gx.gumbel_topk(np.zeros(5), 5, rng=0)
    >>> sorted(s.tolist())
    [0, 1, 2, 3, 4]
    """
    inp = check_input(logits, axis_arg(axis, dim))
    k = check_k(inp, k)
    if validate:
        validate_logits(inp)
    return inp.typed(ops.topk_indices(inp.be, inp.x + gumbel_noise(inp, rng, noise), k, inp.axis))


def check_k(inp: Input[Any], k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    n = inp.shape[inp.axis]
    ki = int(k)
    if isinstance(n, int) and not 1 <= ki <= n:
        raise ValueError(f"k must be in 1..{n} (the size of axis {inp.axis}), got {ki}")
    return ki


def straight_through(y_soft: ArrayT, axis: int = -1, *, dim: int | None = None) -> ArrayT:
    """The straight-through estimator: the exact one-hot of ``argmax(y_soft)``
    in the forward pass, the gradient of ``y_soft`` in the backward pass.

    Parameters
    ----------
    y_soft : array
        Soft samples (e.g. from :func:`gumbel_softmax`), real floating.
    axis : int
        The categories' axis. ``dim`` is an alias.

    Returns
    -------
    array
        Same namespace, device, shape and dtype as ``y_soft``; ties go to
        the first index.

    Examples
    --------
    >>> import numpy as np, gumbelxp as gx
    >>> gx.straight_through(np.array([0.2, 0.5, 0.3]))
    array([0., 1., 0.])
    """
    inp = check_input(y_soft, axis_arg(axis, dim), "y_soft")
    be, y = inp.be, inp.x
    return inp.result(ops.straight_through(be, y, ops.argmax_one_hot(be, y, inp.axis)))
