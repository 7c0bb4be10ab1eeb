"""Argument checks shared by every public function.

All of them are Python-level and free (shapes, dtypes, numbers), except the
data checks that ``validate=True`` asks for. Each raises the error a user
reads: what was given, what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, cast

from ._philox import PhiloxStream, check_seed
from ._types import ArrayT
from .backends import Backend, backend_of, loaded_backends, reject_unsupported

INF = math.inf


def is_number(v: Any) -> bool:
    """A Python or NumPy real scalar such as ``np.float64(0.5)`` (not a bool;
    no array is a ``numbers.Real``, not even a 0-d one)."""
    return not isinstance(v, bool) and isinstance(v, numbers.Real)


def _as_float(v: Any) -> tuple[float, str]:
    """``float(v)`` (``inf`` with the sign of a number beyond the float range,
    which no computation can use) and ``v`` as an error message shows it
    (not the hundreds of digits of such an int)."""
    try:
        return float(v), repr(v)
    except OverflowError:
        return (INF, "a number beyond the float range") if v > 0 else (
            -INF, "a negative number beyond the float range")


def positive_number(v: Any, what: str) -> float:
    """``v`` (a number) as a float, ValueError unless finite and > 0."""
    f, shown = _as_float(v)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"{what} must be finite and > 0, got {shown}")
    return f


def finite_number(v: Any, what: str) -> float:
    f, shown = _as_float(v)
    if not math.isfinite(f):
        raise ValueError(f"{what} must be finite, got {shown}")
    return f


def work_dtype(xp: Any, dtype: Any, what: str) -> Any:
    """The dtype computed in: ``dtype`` itself, or float32 for half precision;
    TypeError naming ``dtype`` unless it is real floating."""
    if not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"{what} must have a real floating dtype, got {dtype}")
    return xp.float32 if xp.finfo(dtype).bits < 32 else dtype


def axis_arg(axis: Any, dim: Any) -> Any:
    """``axis``, or its alias ``dim`` (PyTorch's name); TypeError for both."""
    if dim is None:
        return axis
    if axis != -1 and axis != dim:
        raise TypeError("give axis= or its alias dim=, not both")
    return dim


def norm_axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if ndim == 0:
        raise ValueError("the input must have at least one dimension (the categories)")
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ValueError(f"axis {a} is out of range for an array of {ndim} dimensions")
    return a % ndim


def same_backend(be: Backend, a: Any, what: str) -> None:
    """TypeError unless ``a`` is an array of ``be`` (the first argument's)."""
    reject_unsupported(a)
    try:
        abe = backend_of(a)
    except TypeError:
        abe = None
    if abe is not be:
        raise TypeError(f"{what} must be a {be.name} array like the logits, "
                        f"got {type(a).__module__}.{type(a).__qualname__}")


def broadcast_shapes(*shapes: tuple[Any, ...]) -> tuple[Any, ...]:
    """NumPy's broadcasting of shapes (a symbolic entry is kept as is);
    ValueError naming the shapes if they do not broadcast."""
    nd = max(len(s) for s in shapes)
    out: list[Any] = []
    for i in range(nd):
        d: Any = 1
        for s in shapes:
            e = s[i - nd + len(s)] if i - nd + len(s) >= 0 else 1
            if isinstance(e, int) and e == 1:
                continue
            if isinstance(d, int) and d == 1:
                d = e
            elif isinstance(d, int) and isinstance(e, int) and d != e:
                raise ValueError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} "
                                 "do not broadcast together")
        out.append(d)
    return tuple(out)


def same_shape(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two shapes are equal where both entries are known (a symbolic
    entry, an unknown dimension while tracing, has no truth value)."""
    return len(a) == len(b) and all(
        not (isinstance(m, int) and isinstance(n, int)) or m == n
        for m, n in zip(a, b, strict=True))


@dataclass
class Input(Generic[ArrayT]):
    """The categorical input of a call, checked: its backend and namespace,
    the array in the dtype computed in (float32 for half precision), held
    whole along ``axis``, its shape and the normalised ``axis``. Generic in
    the type of the user's array, which :meth:`result` gives back."""

    be: Backend
    xp: Any
    x: Any
    dtype: Any  # the input's own dtype, that of the result
    wdt: Any  # the dtype computed in
    shape: tuple[Any, ...]
    axis: int

    @property
    def device(self) -> Any:
        return self.be.device(self.x)

    def result(self, y: Any, log_space: bool = False) -> ArrayT:
        """``y`` in the input's dtype; in log space (``log_space``) a finite
        value stays finite (clamped at the dtype's lowest), ``-inf`` stays
        ``-inf``."""
        if y.dtype != self.dtype:
            xp = self.xp
            if log_space:
                y = xp.where(y == -INF, y, xp.clip(y, min=float(xp.finfo(self.dtype).min)))
            y = xp.astype(y, self.dtype)
        return self.typed(y)

    def typed(self, y: Any) -> ArrayT:
        """``y``, an array of the input's framework, as the type of the
        user's array (the one place the static array type is asserted)."""
        return cast(ArrayT, y)


def check_input(logits: ArrayT, axis: Any, what: str = "logits") -> Input[ArrayT]:
    be = backend_of(logits)
    xp = be.namespace
    wdt = work_dtype(xp, logits.dtype, what)
    shape = be.shape(logits)
    axis = norm_axis(axis, len(shape))
    if isinstance(shape[axis], int) and shape[axis] == 0:
        raise ValueError(f"axis {axis} of {what} has no categories (size 0)")
    x = logits if logits.dtype == wdt else xp.astype(logits, wdt)
    return Input(be, xp, be.whole_axis(x, axis), logits.dtype, wdt, shape, axis)


def check_elementwise(logits: ArrayT, what: str = "logits") -> Input[ArrayT]:
    """The input of an elementwise function (no categories' axis: ``axis``
    is -1 for the record only)."""
    be = backend_of(logits)
    xp = be.namespace
    wdt = work_dtype(xp, logits.dtype, what)
    x = logits if logits.dtype == wdt else xp.astype(logits, wdt)
    return Input(be, xp, x, logits.dtype, wdt, be.shape(logits), -1)


def elementwise_tau(inp: Input[Any], tau: Any) -> Any:
    """``tau`` for an elementwise function: a checked number as a float, or
    an array of the input's framework (broadcast elementwise)."""
    if is_number(tau):
        return positive_number(tau, "tau")
    if tau is None or isinstance(tau, bool):
        raise TypeError(f"tau must be a positive number or an array, got {tau!r}")
    same_backend(inp.be, tau, "tau, if not a number,")
    work_dtype(inp.xp, tau.dtype, "tau")
    return inp.xp.astype(tau, inp.wdt)


def tau_arg(inp: Input[Any], tau: Any, shape: tuple[Any, ...] | None = None) -> Any:
    """``tau`` as a Python float (a number, checked), or as an array of the
    input's framework that broadcasts against ``shape`` (default: the input's)
    with one value per slice along the axis: shape ``()``, the shape without
    the axis, or the full rank with size 1 on the axis. Anything else,
    ValueError: a ``tau`` that varies along the categories would not be a
    temperature."""
    if is_number(tau):
        return positive_number(tau, "tau")
    if tau is None or isinstance(tau, bool):
        raise TypeError(f"tau must be a positive number or an array, got {tau!r}")
    be, xp, axis = inp.be, inp.xp, inp.axis
    shape = inp.shape if shape is None else shape
    same_backend(be, tau, "tau, if not a number,")
    work_dtype(xp, tau.dtype, "tau")
    t = xp.astype(tau, inp.wdt)
    ts = be.shape(t)
    nd = len(shape)
    if len(ts) == nd - 1 and nd > 1:
        t = xp.expand_dims(t, axis=axis)
        ts = be.shape(t)
    ok = len(ts) == 0 or (len(ts) == nd and isinstance(ts[axis], int) and ts[axis] == 1)
    if ok and ts:
        try:
            ok = same_shape(broadcast_shapes(ts, shape), shape)
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"tau of shape {tuple(be.shape(tau))} must hold one value per slice along axis "
            f"{axis} of shape {tuple(shape)}: a scalar, the shape without that axis "
            f"{tuple(d for i, d in enumerate(shape) if i != axis)}, or size 1 on the axis")
    return t


def check_rng(be: Backend, rng: Any) -> Any:
    """``rng`` checked: None, an int seed (as a Python int), a native
    generator of ``be`` or a PortableRNG; TypeError for anything else,
    naming the framework of another framework's generator."""
    if rng is None or isinstance(rng, PhiloxStream):
        return rng
    if be.is_generator(rng):
        return rng
    if not isinstance(rng, bool) and isinstance(rng, numbers.Integral):
        return check_seed(rng)
    for other in loaded_backends():
        if other is not be and other.is_generator(rng):
            raise TypeError(
                f"rng is a {other.generator_name} but the input is a {be.name} array: "
                f"pass a {be.generator_name}, an int seed or gumbelxp.PortableRNG")
    raise TypeError(
        f"rng must be None, an int seed, a {be.generator_name} or gumbelxp.PortableRNG; "
        f"got {type(rng).__name__}")


def _first_bad(be: Backend, xp: Any, bad: Any, axis: int | None, name: str,
               why: str | Callable[[int], str]) -> None:
    """ValueError naming the first True entry of ``bad`` (a slice index with
    ``axis`` reinserted as ``:``, or an element index when ``axis`` is None);
    ``why`` says what is wrong, or gives it from the flat index."""
    if not bool(xp.any(bad)):
        return
    first = int(xp.argmax(xp.astype(xp.reshape(bad, (-1,)), xp.int32)))
    if callable(why):
        why = why(first)
    idx: list[str] = []
    for d in reversed(tuple(be.shape(bad))):
        idx.append(str(first % d))
        first //= d
    idx = idx[::-1]
    if axis is not None:
        idx.insert(axis, ":")
    where = f"{name}[{', '.join(idx)}]"
    raise ValueError(f"{where} {why}" + ("" if axis is None else
                                         f"; first bad slice along axis {axis}"))


def require_concrete(be: Backend, x: Any) -> None:
    if not be.is_concrete(x):
        raise ValueError(
            "validate=True reads values, which is impossible while tracing (jax.jit, "
            "tf.function graph mode): validate outside, or check the output for NaN")


def validate_logits(inp: Input[Any], name: str = "logits") -> None:
    """``validate=True``: ValueError naming the first slice along the axis
    that holds a NaN or +inf, or only -inf."""
    be, xp, x, axis = inp.be, inp.xp, inp.x, inp.axis
    require_concrete(be, x)
    poisoned = xp.any(xp.isnan(x) | (x == INF), axis=axis)
    empty = xp.all(x == -INF, axis=axis)
    _first_bad(be, xp, poisoned | empty, axis, name, lambda i: (
        "holds NaN or +inf" if bool(xp.reshape(poisoned, (-1,))[i])
        else "is all -inf (every category masked)"))


def validate_elements(inp: Input[Any], name: str = "logits") -> None:
    """``validate=True`` for elementwise logits: ValueError naming the first
    NaN or +inf."""
    xp = inp.xp
    validate_where(inp.be, xp, xp.isnan(inp.x) | (inp.x == INF), None, name,
                   "is NaN or +inf (first bad element)")


def validate_tau(inp: Input[Any], t: Any, least: float = 0.0, strict: bool = True) -> None:
    """An array ``tau``: ValueError unless finite and > ``least`` (>= unless
    ``strict``) everywhere."""
    if isinstance(t, float):
        return
    xp = inp.xp
    require_concrete(inp.be, t)
    ok = (t > least) if strict else (t >= least)
    if not bool(xp.all(ok & (t < INF))):
        raise ValueError(f"tau must be finite and {'>' if strict else '>='} {least:g} everywhere")


def validate_where(be: Backend, xp: Any, bad: Any, axis: int | None, name: str,
                   why: str) -> None:
    """ValueError naming the first slice (``axis``) or element (None) where
    ``bad`` holds."""
    require_concrete(be, bad)
    _first_bad(be, xp, bad, axis, name, why)
