"""An array-API namespace for ``tf.Tensor``, built on TensorFlow ops.

No released array-api-compat supports TensorFlow (its open pull request #441
tries), so this module covers what gumbelxp's core, PortableRNG and tests use,
plus the common rest of the standard, as plain functions over ``tf.Tensor``
(and ``tf.Variable``). It patches nothing: ``tf.Tensor``'s own operators are
left as they are, and the core uses only those that behave (same-dtype
arithmetic, comparisons, ``&``, ``|``, ``^``, slicing); everything else goes
through these functions. The adapter exposes this module as its
``namespace``; switching to a future array-api-compat TensorFlow namespace
is one line there.

Departures from TensorFlow's own behaviour, towards the standard:

* ``x.shape`` is a ``TensorShape``; functions here take tuples whose entries
  may be ints or scalar tensors (unknown dimensions inside ``tf.function``).
* Binary functions promote dtypes (``tf.Tensor`` operators do not): Python
  scalars take the array's dtype, two arrays the standard's promotion (an
  integer with a floating array gives the floating dtype).
* ``max``/``min``/``maximum``/``minimum`` propagate NaN; ``argmax``/``argmin``
  return the first NaN of a slice that holds one; ``argsort``/``sort`` put NaN
  last and are stable; indices are ``int64`` (the default integer dtype).
* Python ints become ``int64``, Python floats ``float32`` (TensorFlow's default
  float, so ``asarray(0.0).dtype`` is the default floating dtype).

Known differences left as they are: ``max``/``min`` of an empty slice return
``-inf``/``+inf`` (or the integer extreme) instead of raising; there are no
in-place updates or boolean-mask indexing (TensorFlow tensors are immutable).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np
import tensorflow as tf

__array_api_version__ = "2023.12"

_pybool, _pyint, _pyfloat, _pycomplex = builtins.bool, builtins.int, builtins.float, complex

# -- dtypes ---------------------------------------------------------------------
bool = tf.bool  # noqa: A001
int8, int16, int32, int64 = tf.int8, tf.int16, tf.int32, tf.int64
uint8, uint16, uint32, uint64 = tf.uint8, tf.uint16, tf.uint32, tf.uint64
float16, bfloat16, float32, float64 = tf.float16, tf.bfloat16, tf.float32, tf.float64
complex64, complex128 = tf.complex64, tf.complex128

e, pi, inf, nan, newaxis = math.e, math.pi, math.inf, math.nan, None

_DEFAULT_FLOAT = tf.float32
_DEFAULT_INT = tf.int64
_INDEX = tf.int64

_SIGNED = (tf.int8, tf.int16, tf.int32, tf.int64)
_UNSIGNED = (tf.uint8, tf.uint16, tf.uint32, tf.uint64)
_FLOATS = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
_COMPLEX = (tf.complex64, tf.complex128)


def _dt(dtype: Any) -> tf.DType:
    return tf.as_dtype(dtype)


def _is_tensor(x: Any) -> _pybool:
    return isinstance(x, (tf.Tensor, tf.Variable))


def _t(x: Any) -> tf.Tensor:
    """``x`` as a tensor (a Variable is read; other objects go through asarray)."""
    if isinstance(x, tf.Tensor):
        return x
    if isinstance(x, tf.Variable):
        return tf.convert_to_tensor(x)
    return asarray(x)


def _on(device: Any):
    """A ``tf.device`` context for ``device``, or a null one."""
    import contextlib

    if device is None or device == "":
        return contextlib.nullcontext()
    return tf.device(device if isinstance(device, str) else str(device))


def _scalar_dtype(v: Any) -> tf.DType:
    if isinstance(v, _pybool):
        return tf.bool
    if isinstance(v, _pyint):
        return _DEFAULT_INT
    if isinstance(v, _pyfloat):
        return _DEFAULT_FLOAT
    return tf.complex64


# -- dtype functions --------------------------------------------------------------
def isdtype(dtype: Any, kind: Any) -> _pybool:
    """The standard's ``isdtype`` for TensorFlow dtypes."""
    dtype = _dt(dtype)
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if not isinstance(kind, str):
        return dtype == _dt(kind)
    groups = {
        "bool": (tf.bool,),
        "signed integer": _SIGNED,
        "unsigned integer": _UNSIGNED,
        "integral": _SIGNED + _UNSIGNED,
        "real floating": _FLOATS,
        "complex floating": _COMPLEX,
        "numeric": _SIGNED + _UNSIGNED + _FLOATS + _COMPLEX,
    }
    if kind not in groups:
        raise ValueError(f"unknown dtype kind {kind!r}")
    return dtype in groups[kind]


class finfo_object:
    """Floating-point limits (``bits``, ``eps``, ``max``, ``min``,
    ``smallest_normal``, ``dtype``), as Python floats."""

    def __init__(self, dtype: tf.DType) -> None:
        import ml_dtypes  # a TensorFlow dependency; knows bfloat16

        fi = ml_dtypes.finfo(dtype.as_numpy_dtype)
        self.dtype = dtype
        self.bits = _pyint(fi.bits)
        self.eps = _pyfloat(fi.eps)
        self.max = _pyfloat(fi.max)
        self.min = _pyfloat(fi.min)
        self.smallest_normal = _pyfloat(fi.smallest_normal)

    def __repr__(self) -> str:
        return f"finfo(dtype={self.dtype.name}, bits={self.bits}, eps={self.eps})"


class iinfo_object:
    """Integer limits (``bits``, ``max``, ``min``, ``dtype``)."""

    def __init__(self, dtype: tf.DType) -> None:
        ii = np.iinfo(dtype.as_numpy_dtype)
        self.dtype = dtype
        self.bits, self.max, self.min = _pyint(ii.bits), _pyint(ii.max), _pyint(ii.min)

    def __repr__(self) -> str:
        return f"iinfo(dtype={self.dtype.name}, bits={self.bits})"


def finfo(type: Any) -> finfo_object:  # noqa: A002  (the standard's name)
    dtype = type.dtype if _is_tensor(type) else _dt(type)
    if not dtype.is_floating:
        raise TypeError(f"finfo needs a floating dtype, got {dtype.name}")
    return finfo_object(dtype)


def iinfo(type: Any) -> iinfo_object:  # noqa: A002
    dtype = type.dtype if _is_tensor(type) else _dt(type)
    if not dtype.is_integer:
        raise TypeError(f"iinfo needs an integer dtype, got {dtype.name}")
    return iinfo_object(dtype)


def _kind(d: tf.DType) -> str:
    if d == tf.bool:
        return "b"
    if d in _SIGNED:
        return "i"
    if d in _UNSIGNED:
        return "u"
    if d in _FLOATS:
        return "f"
    return "c"


def _bits(d: tf.DType) -> _pyint:
    return d.size * 8


def _promote2(a: tf.DType, b: tf.DType) -> tf.DType:
    if a == b:
        return a
    ka, kb = _kind(a), _kind(b)
    if "b" in (ka, kb):
        raise TypeError(f"cannot promote {a.name} with {b.name}")
    if ka == kb == "f":
        if {a, b} == {tf.float16, tf.bfloat16}:
            return tf.float32
        return a if _bits(a) >= _bits(b) else b
    if ka == kb:  # both signed, both unsigned, or both complex
        return a if _bits(a) >= _bits(b) else b
    if "c" in (ka, kb):
        other = b if ka == "c" else a
        c = a if ka == "c" else b
        return tf.complex128 if (other == tf.float64 or c == tf.complex128) else tf.complex64
    if "f" in (ka, kb):  # integer with floating: the floating dtype
        return a if ka == "f" else b
    s, u = (a, b) if ka == "i" else (b, a)  # signed with unsigned
    if _bits(s) > _bits(u):
        return s
    if _bits(u) >= 64:
        raise TypeError(f"cannot promote {a.name} with {b.name}")
    return {8: tf.int16, 16: tf.int32, 32: tf.int64}[_bits(u)]


def result_type(*arrays_and_dtypes: Any) -> tf.DType:
    out = None
    for a in arrays_and_dtypes:
        d = a.dtype if _is_tensor(a) else _dt(a)
        out = d if out is None else _promote2(out, d)
    if out is None:
        raise ValueError("result_type needs at least one array or dtype")
    return out


def can_cast(from_: Any, to: Any) -> _pybool:
    f = from_.dtype if _is_tensor(from_) else _dt(from_)
    try:
        return _promote2(f, _dt(to)) == _dt(to)
    except TypeError:
        return False


def _pair(x1: Any, x2: Any) -> tuple[tf.Tensor, tf.Tensor]:
    """Both operands as tensors of their promoted dtype; a Python scalar
    takes the other operand's dtype (if of a compatible kind)."""
    t1, t2 = _is_tensor(x1), _is_tensor(x2)
    if t1 and t2:
        x1, x2 = _t(x1), _t(x2)
        if x1.dtype != x2.dtype:
            d = _promote2(x1.dtype, x2.dtype)
            x1, x2 = tf.cast(x1, d), tf.cast(x2, d)
        return x1, x2
    if t1:
        x1 = _t(x1)
        return _pair(x1, _scalar_like(x2, x1.dtype))
    if t2:
        x2 = _t(x2)
        return _pair(_scalar_like(x1, x2.dtype), x2)
    return _pair(asarray(x1), x2)


def _scalar_like(v: Any, dtype: tf.DType) -> tf.Tensor:
    if isinstance(v, (_pybool, _pyint, _pyfloat, _pycomplex)):
        k = _kind(dtype)
        if isinstance(v, _pybool) and k != "b":
            v = _pyint(v)
        if (isinstance(v, _pyfloat) and k in "iub") or (isinstance(v, _pycomplex) and k != "c"):
            x = asarray(v)
            return tf.cast(x, _promote2(x.dtype, dtype)) if k != "b" else x
        if isinstance(v, _pyint) and k == "b":
            return asarray(v)
        if isinstance(v, _pyint) and k in "iu":
            ii = np.iinfo(dtype.as_numpy_dtype)
            if not ii.min <= v <= ii.max:  # tf.constant would wrap it silently
                if -(2**63) <= v < 2**63:
                    return tf.constant(v, dtype=tf.int64)
                raise OverflowError(f"Python int {v} does not fit {dtype.name} or int64")
        return tf.constant(v, dtype=dtype)
    return asarray(v)


# -- creation -------------------------------------------------------------------------
def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> tf.Tensor:
    """A tensor from a tensor, Variable, NumPy array, scalar or nested sequence.

    Python ints give int64, Python floats float32; NumPy arrays keep their
    dtype. ``device`` (a TensorFlow device string) places the result there.
    """
    dtype = None if dtype is None else _dt(dtype)
    if _is_tensor(obj):
        x = _t(obj)
        if dtype is not None and x.dtype != dtype:
            x = tf.cast(x, dtype)
    elif dtype is not None:
        try:
            x = tf.convert_to_tensor(obj, dtype=dtype)
        except (TypeError, ValueError):
            x = tf.cast(tf.convert_to_tensor(obj), dtype)
    elif isinstance(obj, (np.ndarray, np.generic)):
        x = tf.convert_to_tensor(obj)
    else:  # Python scalars and sequences: TensorFlow infers int32 for ints
        x = tf.convert_to_tensor(obj)
        if x.dtype == tf.int32:
            x = tf.cast(x, _DEFAULT_INT)
    if device is not None and device != "":
        with _on(device):
            x = tf.identity(x)
    return x


def _shape_arg(shape: Any) -> Any:
    if isinstance(shape, (_pyint, np.integer)) or (_is_tensor(shape) and shape.shape.rank == 0):
        return [shape]
    return list(shape)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    with _on(device):
        return tf.zeros(_shape_arg(shape), dtype=_dt(dtype or _DEFAULT_FLOAT))


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    with _on(device):
        return tf.ones(_shape_arg(shape), dtype=_dt(dtype or _DEFAULT_FLOAT))


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    return zeros(shape, dtype=dtype, device=device)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    dtype = _dt(dtype) if dtype is not None else _scalar_dtype(fill_value)
    with _on(device):
        return tf.fill(_shape_arg(shape), tf.constant(fill_value, dtype=dtype))


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    with _on(device):
        return tf.zeros_like(_t(x), dtype=None if dtype is None else _dt(dtype))


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    with _on(device):
        return tf.ones_like(_t(x), dtype=None if dtype is None else _dt(dtype))


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    return zeros_like(x, dtype=dtype, device=device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    x = _t(x)
    dtype = x.dtype if dtype is None else _dt(dtype)
    with _on(device):
        return tf.fill(tf.shape(x), tf.constant(fill_value, dtype=dtype))


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> tf.Tensor:
    """``tf.range``; integers default to int64. ``stop`` may be a scalar
    tensor (an unknown dimension)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        vals = (start, stop, step)
        if builtins.all(isinstance(v, (_pyint, np.integer)) or (_is_tensor(v) and v.dtype.is_integer)
                        for v in vals):
            dtype = _DEFAULT_INT
        else:
            dtype = _DEFAULT_FLOAT
    dtype = _dt(dtype)
    # TensorFlow's CPU kernel covers int32, int64 and floats only
    work = dtype if dtype in (tf.int32, tf.int64) or dtype.is_floating else tf.int64
    with _on(device):
        if _is_tensor(start) or _is_tensor(stop) or _is_tensor(step):
            start, stop, step = (tf.cast(_t(v), work) for v in (start, stop, step))
        out = tf.range(start, stop, step, dtype=work)
        return out if work == dtype else tf.cast(out, dtype)


def linspace(start: Any, stop: Any, /, num: Any, *, dtype: Any = None, device: Any = None,
             endpoint: _pybool = True) -> tf.Tensor:
    dtype = _dt(dtype or _DEFAULT_FLOAT)
    with _on(device):
        if endpoint:
            return tf.cast(tf.linspace(tf.cast(start, tf.float64), tf.cast(stop, tf.float64), num),
                           dtype)
        step = (stop - start) / num
        return tf.cast(start + tf.range(num, dtype=tf.float64) * step, dtype)


def eye(n_rows: Any, n_cols: Any = None, /, *, k: Any = 0, dtype: Any = None,
        device: Any = None) -> tf.Tensor:
    n_cols = n_rows if n_cols is None else n_cols
    with _on(device):
        r = tf.range(n_rows, dtype=tf.int64)[:, None] + k
        return tf.cast(r == tf.range(n_cols, dtype=tf.int64)[None, :],
                       _dt(dtype or _DEFAULT_FLOAT))


def astype(x: Any, dtype: Any, /, *, copy: _pybool = True, device: Any = None) -> tf.Tensor:
    x = _t(x)
    dtype = _dt(dtype)
    if x.dtype != dtype:
        x = tf.cast(x, dtype)
    if device is not None and device != "":
        with _on(device):
            x = tf.identity(x)
    return x


# -- element-wise ------------------------------------------------------------------------
def _unary(fn: Any, name: str, floats_only: _pybool = False) -> Any:
    def f(x: Any, /) -> tf.Tensor:
        x = _t(x)
        if floats_only and not (x.dtype.is_floating or x.dtype.is_complex):
            x = tf.cast(x, _DEFAULT_FLOAT)
        return fn(x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Element-wise ``{name}`` (``{getattr(fn, '__name__', fn)}``)."
    return f


exp = _unary(tf.math.exp, "exp", True)
expm1 = _unary(tf.math.expm1, "expm1", True)
log = _unary(tf.math.log, "log", True)
log1p = _unary(tf.math.log1p, "log1p", True)
log2 = _unary(lambda x: tf.math.log(x) / tf.constant(math.log(2), x.dtype), "log2", True)
log10 = _unary(lambda x: tf.math.log(x) / tf.constant(math.log(10), x.dtype), "log10", True)
sqrt = _unary(tf.math.sqrt, "sqrt", True)
sin = _unary(tf.math.sin, "sin", True)
cos = _unary(tf.math.cos, "cos", True)
tan = _unary(tf.math.tan, "tan", True)
tanh = _unary(tf.math.tanh, "tanh", True)
sinh = _unary(tf.math.sinh, "sinh", True)
cosh = _unary(tf.math.cosh, "cosh", True)
abs = _unary(tf.math.abs, "abs")  # noqa: A001
negative = _unary(tf.math.negative, "negative")
positive = _unary(lambda x: x, "positive")
square = _unary(tf.math.square, "square")
sign = _unary(tf.math.sign, "sign")
logical_not = _unary(tf.math.logical_not, "logical_not")
bitwise_invert = _unary(tf.bitwise.invert, "bitwise_invert")


def floor(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.math.floor(x) if x.dtype.is_floating else x


def ceil(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.math.ceil(x) if x.dtype.is_floating else x


def trunc(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.where(x < 0, tf.math.ceil(x), tf.math.floor(x)) if x.dtype.is_floating else x


def round(x: Any, /) -> tf.Tensor:  # noqa: A001
    x = _t(x)
    return tf.math.round(x) if x.dtype.is_floating else x  # half to even, as the standard


def isnan(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.math.is_nan(x) if x.dtype.is_floating else tf.zeros_like(x, dtype=tf.bool)


def isinf(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.math.is_inf(x) if x.dtype.is_floating else tf.zeros_like(x, dtype=tf.bool)


def isfinite(x: Any, /) -> tf.Tensor:
    x = _t(x)
    return tf.math.is_finite(x) if x.dtype.is_floating else tf.ones_like(x, dtype=tf.bool)


def _binary(fn: Any, name: str) -> Any:
    def f(x1: Any, x2: Any, /) -> tf.Tensor:
        a, b = _pair(x1, x2)
        return fn(a, b)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Element-wise ``{name}`` with dtype promotion."
    return f


add = _binary(tf.math.add, "add")
subtract = _binary(tf.math.subtract, "subtract")
multiply = _binary(tf.math.multiply, "multiply")
floor_divide = _binary(tf.math.floordiv, "floor_divide")
remainder = _binary(tf.math.floormod, "remainder")
equal = _binary(tf.math.equal, "equal")
not_equal = _binary(tf.math.not_equal, "not_equal")
less = _binary(tf.math.less, "less")
less_equal = _binary(tf.math.less_equal, "less_equal")
greater = _binary(tf.math.greater, "greater")
greater_equal = _binary(tf.math.greater_equal, "greater_equal")
logical_and = _binary(tf.math.logical_and, "logical_and")
logical_or = _binary(tf.math.logical_or, "logical_or")
logical_xor = _binary(tf.math.logical_xor, "logical_xor")
bitwise_and = _binary(tf.bitwise.bitwise_and, "bitwise_and")
bitwise_or = _binary(tf.bitwise.bitwise_or, "bitwise_or")
bitwise_xor = _binary(tf.bitwise.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _binary(tf.bitwise.left_shift, "bitwise_left_shift")
bitwise_right_shift = _binary(tf.bitwise.right_shift, "bitwise_right_shift")
atan2 = _binary(tf.math.atan2, "atan2")
hypot = _binary(lambda a, b: tf.math.sqrt(a * a + b * b), "hypot")


def divide(x1: Any, x2: Any, /) -> tf.Tensor:
    a, b = _pair(x1, x2)
    if not (a.dtype.is_floating or a.dtype.is_complex):
        a, b = tf.cast(a, _DEFAULT_FLOAT), tf.cast(b, _DEFAULT_FLOAT)
    return a / b


def pow(x1: Any, x2: Any, /) -> tf.Tensor:  # noqa: A001
    a, b = _pair(x1, x2)
    return tf.math.pow(a, b)


def _nan_either(a: tf.Tensor, b: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
    if not a.dtype.is_floating:
        return out
    return tf.where(tf.math.is_nan(a), a, tf.where(tf.math.is_nan(b), b, out))


def maximum(x1: Any, x2: Any, /) -> tf.Tensor:
    """Element-wise maximum; NaN if either is NaN."""
    a, b = _pair(x1, x2)
    return _nan_either(a, b, tf.math.maximum(a, b))


def minimum(x1: Any, x2: Any, /) -> tf.Tensor:
    """Element-wise minimum; NaN if either is NaN."""
    a, b = _pair(x1, x2)
    return _nan_either(a, b, tf.math.minimum(a, b))


def logaddexp(x1: Any, x2: Any, /) -> tf.Tensor:
    a, b = _pair(x1, x2)
    m = tf.math.maximum(a, b)
    m = tf.where(tf.math.is_inf(m), tf.zeros_like(m), m)
    return m + tf.math.log(tf.math.exp(a - m) + tf.math.exp(b - m))


def clip(x: Any, /, min: Any = None, max: Any = None) -> tf.Tensor:  # noqa: A002
    x = _t(x)
    if min is not None:
        x = maximum(x, _scalar_like(min, x.dtype) if not _is_tensor(min) else tf.cast(min, x.dtype))
    if max is not None:
        x = minimum(x, _scalar_like(max, x.dtype) if not _is_tensor(max) else tf.cast(max, x.dtype))
    return x


def where(condition: Any, x1: Any, x2: Any, /) -> tf.Tensor:
    """``tf.where`` with broadcasting and dtype promotion."""
    a, b = _pair(x1, x2)
    return tf.where(tf.cast(_t(condition), tf.bool), a, b)


# -- reductions -------------------------------------------------------------------------------
def _axis(axis: Any) -> Any:
    return list(axis) if isinstance(axis, tuple) else axis


def _reduce_nan(fn: Any, name: str) -> Any:
    def f(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:
        x = _t(x)
        ax = _axis(axis)
        if x.dtype == tf.bool:
            op = tf.reduce_any if fn is tf.reduce_max else tf.reduce_all
            return op(x, axis=ax, keepdims=keepdims)
        out = fn(x, axis=ax, keepdims=keepdims)
        if x.dtype.is_floating:
            has_nan = tf.reduce_any(tf.math.is_nan(x), axis=ax, keepdims=keepdims)
            out = tf.where(has_nan, tf.constant(math.nan, x.dtype), out)
        return out

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``{fn.__name__}`` that propagates NaN (a slice with a NaN gives NaN). "
                 "An empty slice gives the identity (-inf / +inf), not an error.")
    return f


max = _reduce_nan(tf.reduce_max, "max")  # noqa: A001
min = _reduce_nan(tf.reduce_min, "min")  # noqa: A001


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: _pybool = False) -> tf.Tensor:  # noqa: A001
    x = _t(x)
    if dtype is not None:
        x = tf.cast(x, _dt(dtype))
    elif x.dtype == tf.bool or x.dtype in _SIGNED[:3]:
        x = tf.cast(x, _DEFAULT_INT)
    elif x.dtype in _UNSIGNED[:3]:
        x = tf.cast(x, tf.uint64)
    return tf.reduce_sum(x, axis=_axis(axis), keepdims=keepdims)


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: _pybool = False) -> tf.Tensor:
    x = _t(x)
    if dtype is not None:
        x = tf.cast(x, _dt(dtype))
    elif x.dtype == tf.bool or x.dtype in _SIGNED[:3]:
        x = tf.cast(x, _DEFAULT_INT)
    return tf.reduce_prod(x, axis=_axis(axis), keepdims=keepdims)


def mean(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:
    x = _t(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, _DEFAULT_FLOAT)
    return tf.reduce_mean(x, axis=_axis(axis), keepdims=keepdims)


def var(x: Any, /, *, axis: Any = None, correction: Any = 0.0, keepdims: _pybool = False) -> tf.Tensor:
    x = _t(x)
    ax = _axis(axis)
    m = tf.reduce_mean(x, axis=ax, keepdims=True)
    n = tf.cast(tf.size(x), x.dtype) / tf.cast(tf.size(m), x.dtype)
    s = tf.reduce_sum(tf.math.square(x - m), axis=ax, keepdims=keepdims)
    return s / (n - correction)


def std(x: Any, /, *, axis: Any = None, correction: Any = 0.0, keepdims: _pybool = False) -> tf.Tensor:
    return tf.math.sqrt(var(x, axis=axis, correction=correction, keepdims=keepdims))


def _as_bool(x: Any) -> tf.Tensor:
    x = _t(x)
    return x if x.dtype == tf.bool else tf.math.not_equal(x, tf.zeros([], x.dtype))


def any(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_any(_as_bool(x), axis=_axis(axis), keepdims=keepdims)


def all(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_all(_as_bool(x), axis=_axis(axis), keepdims=keepdims)


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:
    return tf.reduce_sum(tf.cast(_as_bool(x), _INDEX), axis=_axis(axis), keepdims=keepdims)


def cumulative_sum(x: Any, /, *, axis: Any = None, dtype: Any = None,
                   include_initial: _pybool = False) -> tf.Tensor:
    x = _t(x)
    if axis is None:
        if x.shape.rank != 1:
            raise ValueError("cumulative_sum needs axis for arrays of more than one dimension")
        axis = 0
    if dtype is not None:
        x = tf.cast(x, _dt(dtype))
    out = tf.math.cumsum(x, axis=axis)
    if include_initial:
        pad = [[0, 0]] * x.shape.rank
        pad[axis] = [1, 0]
        out = tf.pad(out, pad)
    return out


def _arg_nan(fn: Any, name: str) -> Any:
    def f(x: Any, /, *, axis: Any = None, keepdims: _pybool = False) -> tf.Tensor:
        x = _t(x)
        if axis is None:
            flat = tf.reshape(x, [-1])
            out = f(flat, axis=0)
            if keepdims:
                out = tf.reshape(out, [1] * x.shape.rank)
            return out
        if x.dtype == tf.bool:
            x = tf.cast(x, tf.int8)
        out = fn(x, axis=axis, output_type=_INDEX)
        if x.dtype.is_floating:
            isn = tf.math.is_nan(x)
            first_nan = tf.math.argmax(tf.cast(isn, tf.int8), axis=axis, output_type=_INDEX)
            out = tf.where(tf.reduce_any(isn, axis=axis), first_nan, out)
        if keepdims:
            out = tf.expand_dims(out, axis)
        return out

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``tf.math.{name}`` (int64), first index of ties, and the first NaN "
                 "of a slice holding one (as NumPy).")
    return f


argmax = _arg_nan(tf.math.argmax, "argmax")
argmin = _arg_nan(tf.math.argmin, "argmin")


# -- sorting ------------------------------------------------------------------------------------
def _to_last(x: tf.Tensor, axis: _pyint) -> tuple[tf.Tensor, list | None]:
    nd = x.shape.rank
    axis = axis % nd
    if axis == nd - 1:
        return x, None
    perm = [i for i in range(nd) if i != axis] + [axis]
    return tf.transpose(x, perm), perm


def _from_last(x: tf.Tensor, perm: list | None) -> tf.Tensor:
    if perm is None:
        return x
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tf.transpose(x, inv)


def _gather_last(x: tf.Tensor, idx: tf.Tensor) -> tf.Tensor:
    return tf.gather(x, idx, axis=-1, batch_dims=x.shape.rank - 1)


def argsort(x: Any, /, *, axis: _pyint = -1, descending: _pybool = False,
            stable: _pybool = True) -> tf.Tensor:
    """Stable ``tf.argsort`` (int64) with NaN last in both directions, as NumPy's
    ``argsort(x)`` and ``argsort(-x)``."""
    x = _t(x)
    if x.shape.rank == 0:
        return tf.zeros([], _INDEX)
    if x.dtype == tf.bool:
        x = tf.cast(x, tf.int8)
    xl, perm = _to_last(x, axis)
    direction = "DESCENDING" if descending else "ASCENDING"
    if not x.dtype.is_floating:
        return _from_last(tf.cast(tf.argsort(xl, -1, direction, stable=True), _INDEX), perm)
    isn = tf.math.is_nan(xl)
    fill = tf.constant(-math.inf if descending else math.inf, xl.dtype)
    order = tf.argsort(tf.where(isn, fill, xl), -1, direction, stable=True)

    def nan_last() -> tf.Tensor:
        flags = _gather_last(tf.cast(isn, tf.int32), order)
        return _gather_last(order, tf.argsort(flags, -1, "ASCENDING", stable=True))

    order = tf.cond(tf.reduce_any(isn), nan_last, lambda: order)
    return _from_last(tf.cast(order, _INDEX), perm)


def sort(x: Any, /, *, axis: _pyint = -1, descending: _pybool = False,
         stable: _pybool = True) -> tf.Tensor:
    x = _t(x)
    return take_along_axis(x, argsort(x, axis=axis, descending=descending), axis=axis)


def take_along_axis(x: Any, indices: Any, /, *, axis: _pyint = -1) -> tf.Tensor:
    x, indices = _t(x), _t(indices)
    xl, perm = _to_last(x, axis)
    il, _ = _to_last(indices, axis)
    return _from_last(_gather_last(xl, il), perm)


def take(x: Any, indices: Any, /, *, axis: Any = None) -> tf.Tensor:
    x = _t(x)
    if axis is None:
        if x.shape.rank != 1:
            raise ValueError("take needs axis for arrays of more than one dimension")
        axis = 0
    return tf.gather(x, _t(indices), axis=axis)


# -- shapes -----------------------------------------------------------------------------------
def reshape(x: Any, /, shape: Any, *, copy: Any = None) -> tf.Tensor:
    """``tf.reshape``; ``shape`` may hold scalar tensors (unknown dimensions)."""
    return tf.reshape(_t(x), _shape_arg(shape))


def broadcast_to(x: Any, /, shape: Any) -> tf.Tensor:
    return tf.broadcast_to(_t(x), _shape_arg(shape))


def broadcast_arrays(*arrays: Any) -> list[tf.Tensor]:
    arrays = [_t(a) for a in arrays]
    shape = tf.shape(arrays[0])
    for a in arrays[1:]:
        shape = tf.broadcast_dynamic_shape(shape, tf.shape(a))
    return [tf.broadcast_to(a, shape) for a in arrays]


def expand_dims(x: Any, /, axis: Any = 0) -> tf.Tensor:
    x = _t(x)
    if isinstance(axis, tuple):
        nd = x.shape.rank + len(axis)
        for a in sorted(ax % nd for ax in axis):
            x = tf.expand_dims(x, a)
        return x
    return tf.expand_dims(x, axis)


def squeeze(x: Any, /, axis: Any) -> tf.Tensor:
    x = _t(x)
    axes = list(axis) if isinstance(axis, tuple) else [axis]
    for a in axes:
        d = x.shape[a]
        if d is not None and d != 1:
            raise ValueError(f"cannot squeeze axis {a} of size {d}")
    return tf.squeeze(x, axis=axes)


def stack(arrays: Any, /, *, axis: _pyint = 0) -> tf.Tensor:
    arrays = [_t(a) for a in arrays]
    d = result_type(*arrays)
    return tf.stack([tf.cast(a, d) for a in arrays], axis=axis)


def concat(arrays: Any, /, *, axis: Any = 0) -> tf.Tensor:
    arrays = [_t(a) for a in arrays]
    d = result_type(*arrays)
    arrays = [tf.cast(a, d) for a in arrays]
    if axis is None:
        arrays = [tf.reshape(a, [-1]) for a in arrays]
        axis = 0
    return tf.concat(arrays, axis=axis)


def permute_dims(x: Any, /, axes: Any) -> tf.Tensor:
    return tf.transpose(_t(x), list(axes))


def moveaxis(x: Any, source: Any, destination: Any, /) -> tf.Tensor:
    x = _t(x)
    nd = x.shape.rank
    order = [i for i in range(nd) if i != source % nd]
    order.insert(destination % nd, source % nd)
    return tf.transpose(x, order)


def flip(x: Any, /, *, axis: Any = None) -> tf.Tensor:
    x = _t(x)
    axes = list(range(x.shape.rank)) if axis is None else (
        list(axis) if isinstance(axis, tuple) else [axis])
    return tf.reverse(x, axes)


def roll(x: Any, /, shift: Any, *, axis: Any = None) -> tf.Tensor:
    x = _t(x)
    if axis is None:
        return tf.reshape(tf.roll(tf.reshape(x, [-1]), shift, 0), tf.shape(x))
    return tf.roll(x, shift, _axis(axis))


def tile(x: Any, repetitions: Any, /) -> tf.Tensor:
    return tf.tile(_t(x), list(repetitions))


def matmul(x1: Any, x2: Any, /) -> tf.Tensor:
    a, b = _pair(x1, x2)
    return tf.linalg.matmul(a, b)


def nonzero(x: Any, /) -> tuple[tf.Tensor, ...]:
    idx = tf.where(_as_bool(x))
    return tuple(idx[:, i] for i in range(idx.shape[1]))


def unique_values(x: Any, /) -> tf.Tensor:
    return tf.sort(tf.unique(tf.reshape(_t(x), [-1])).y)


# -- information ------------------------------------------------------------------------------
class _Info:
    """``__array_namespace_info__()``: capabilities, defaults and devices."""

    def capabilities(self) -> dict:
        return {"boolean indexing": False, "data-dependent shapes": True, "max dimensions": None}

    def default_device(self) -> str:
        return "/device:CPU:0"

    def devices(self) -> list[str]:
        return [d.name for d in tf.config.list_logical_devices()]

    def default_dtypes(self, *, device: Any = None) -> dict:
        return {"real floating": _DEFAULT_FLOAT, "complex floating": tf.complex64,
                "integral": _DEFAULT_INT, "indexing": _INDEX}

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict:
        names = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128")
        out = {n: tf.as_dtype(n) for n in names}
        return out if kind is None else {n: d for n, d in out.items() if isdtype(d, kind)}


def __array_namespace_info__() -> _Info:
    return _Info()


def device(x: Any, /) -> Any:
    """The device string of ``x`` (None for a symbolic tensor with no placement)."""
    return getattr(x, "device", None) or None
