"""An array-API namespace for ``tf.Tensor``, at the size of gumbelxp's use.

No released array-api-compat supports TensorFlow (its open pull request #441
tries), so this module holds the functions of the standard that gumbelxp's
algorithms, PortableRNG, conformance checks and tests call on TensorFlow
tensors, and nothing more: a new call in the core adds its function here,
with its test against NumPy in ``tests/test_tensorflow_namespace.py``. It
patches nothing: ``tf.Tensor``'s own operators are left as they are, and the
core uses only those that behave (same-dtype arithmetic, comparisons, ``&``,
``|``, ``^``, ``~``, slicing); everything else goes through these functions.
The adapter exposes this module as its ``namespace``; switching to a future
array-api-compat TensorFlow namespace is one line there.

Departures from TensorFlow's own behaviour, towards the standard:

* ``x.shape`` is a ``TensorShape``; functions here take tuples whose entries
  may be ints or scalar tensors (unknown dimensions inside ``tf.function``).
* Binary functions promote dtypes (``tf.Tensor`` operators do not): a Python
  scalar takes the tensor's dtype; two floating (or two integer, of one
  signedness) dtypes give the wider one, float16 with bfloat16 float32.
  Other mixtures raise TypeError.
* ``max``, ``maximum`` and ``minimum`` propagate NaN; ``argmax`` returns the
  first NaN of a slice that holds one; ``argsort`` is stable and puts NaN
  last in both directions; indices are ``int64`` (the default integer dtype).
* Python ints become ``int64``, Python floats ``float32`` (TensorFlow's default
  float, so ``asarray(0.0).dtype`` is the default floating dtype).

Known differences left as they are: ``max`` of an empty slice is ``-inf``
instead of an error; there are no in-place updates or boolean-mask indexing
(TensorFlow tensors are immutable).
"""

from __future__ import annotations

import builtins
import contextlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as _tensorflow

#: TensorFlow ships no type information (no ``py.typed``; typeshed's partial
#: stubs disagree with it), so both type checkers see it as ``Any`` here.
tf: Any = _tensorflow

# -- dtypes (those gumbelxp and its tests name) --------------------------------------
bool = tf.bool  # noqa: A001  (the standard's name)
int32, int64 = tf.int32, tf.int64
float16, bfloat16, float32, float64 = tf.float16, tf.bfloat16, tf.float32, tf.float64

_DEFAULT_FLOAT = tf.float32
_INDEX = tf.int64  # the default integer and index dtype
_FLOATS = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
_INTEGRAL = (tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.uint32, tf.uint64)
_KINDS = {"real floating": _FLOATS, "integral": _INTEGRAL}


def _is_tensor(x: Any) -> builtins.bool:
    return isinstance(x, (tf.Tensor, tf.Variable))


def _t(x: Any) -> Any:
    """``x`` as a tensor (a Variable is read; other objects go through asarray)."""
    if isinstance(x, tf.Tensor):
        return x
    if isinstance(x, tf.Variable):
        return tf.convert_to_tensor(x)
    return asarray(x)


def _on(device: Any) -> contextlib.AbstractContextManager[Any]:
    """A ``tf.device`` context for ``device``, or a null one."""
    if device is None or device == "":
        return contextlib.nullcontext()
    ctx: contextlib.AbstractContextManager[Any] = tf.device(
        device if isinstance(device, str) else str(device))
    return ctx


# -- dtype functions --------------------------------------------------------------
def isdtype(dtype: Any, kind: str) -> builtins.bool:
    """The standard's ``isdtype`` for the kinds gumbelxp asks about:
    ``"real floating"`` and ``"integral"`` (ValueError for another)."""
    if kind not in _KINDS:
        raise ValueError(f"isdtype kind {kind!r} is not supported here; "
                         f"supported: {', '.join(map(repr, _KINDS))}")
    return tf.as_dtype(dtype) in _KINDS[kind]


class _FInfo:
    """Floating-point limits as Python numbers: ``bits``, ``eps``, ``max``,
    ``min``, ``smallest_normal`` and ``dtype``."""

    def __init__(self, dtype: Any) -> None:
        import ml_dtypes  # a TensorFlow dependency; knows bfloat16

        ml_finfo: Any = ml_dtypes.finfo  # unannotated there
        fi = ml_finfo(dtype.as_numpy_dtype)
        self.dtype = dtype
        self.bits = builtins.int(fi.bits)
        self.eps = builtins.float(fi.eps)
        self.max = builtins.float(fi.max)
        self.min = builtins.float(fi.min)
        self.smallest_normal = builtins.float(fi.smallest_normal)


class _IInfo:
    """Integer limits as Python ints: ``bits``, ``max``, ``min`` and ``dtype``."""

    def __init__(self, dtype: Any) -> None:
        ii = np.iinfo(dtype.as_numpy_dtype)
        self.dtype = dtype
        self.bits, self.max, self.min = builtins.int(ii.bits), builtins.int(ii.max), builtins.int(
            ii.min)


def finfo(type: Any, /) -> _FInfo:  # noqa: A002  (the standard's name)
    """Limits of the floating dtype ``type`` (TypeError for another)."""
    dtype = tf.as_dtype(type)
    if dtype not in _FLOATS:
        raise TypeError(f"finfo needs a real floating dtype, got {dtype.name}")
    return _FInfo(dtype)


def iinfo(type: Any, /) -> _IInfo:  # noqa: A002
    """Limits of the integer dtype ``type`` (TypeError for another)."""
    dtype = tf.as_dtype(type)
    if dtype not in _INTEGRAL:
        raise TypeError(f"iinfo needs an integer dtype, got {dtype.name}")
    return _IInfo(dtype)


def _promote(a: Any, b: Any) -> Any:
    if a == b:
        return a
    if a in _FLOATS and b in _FLOATS:
        if {a, b} == {tf.float16, tf.bfloat16}:
            return tf.float32
        return a if a.size >= b.size else b
    if a in _INTEGRAL and b in _INTEGRAL and a.is_unsigned == b.is_unsigned:
        return a if a.size >= b.size else b
    raise TypeError(f"no promotion of {a.name} with {b.name} here (mixed kinds or signedness)")


def result_type(*dtypes: Any) -> Any:
    """The promoted dtype of ``dtypes`` (see the module docstring)."""
    if not dtypes:
        raise ValueError("result_type needs at least one dtype")
    out = tf.as_dtype(dtypes[0])
    for d in dtypes[1:]:
        out = _promote(out, tf.as_dtype(d))
    return out


def _pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Both operands as tensors of one dtype: a Python scalar takes the
    other operand's, two tensors their promoted dtype."""
    if not _is_tensor(x1):
        b = _t(x2)
        return tf.constant(x1, dtype=b.dtype), b
    a = _t(x1)
    if not _is_tensor(x2):
        return a, tf.constant(x2, dtype=a.dtype)
    b = _t(x2)
    if a.dtype != b.dtype:
        d = _promote(a.dtype, b.dtype)
        a, b = tf.cast(a, d), tf.cast(b, d)
    return a, b


# -- creation -------------------------------------------------------------------------
def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    """A tensor from a tensor, Variable, NumPy array, Python scalar or nested
    sequence: Python ints give int64, Python floats float32, NumPy arrays keep
    their dtype. ``device`` (a TensorFlow device string) places it there."""
    if _is_tensor(obj):
        x = _t(obj)
        if dtype is not None and x.dtype != tf.as_dtype(dtype):
            x = tf.cast(x, dtype)
    elif dtype is not None:
        try:
            x = tf.convert_to_tensor(obj, dtype=tf.as_dtype(dtype))
        except (TypeError, ValueError):  # e.g. a NumPy array of another dtype
            x = tf.cast(tf.convert_to_tensor(obj), dtype)
    else:
        x = tf.convert_to_tensor(obj)
        if x.dtype == tf.int32 and not isinstance(obj, (np.ndarray, np.generic)):
            x = tf.cast(x, _INDEX)  # TensorFlow infers int32 for Python ints
    if device is not None and device != "":
        with _on(device):
            x = tf.identity(x)
    return x


def arange(stop: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    """``0, 1, ..., stop - 1`` (the one-argument form gumbelxp uses): ``stop``
    may be a scalar tensor (an unknown dimension); int64 unless ``dtype``."""
    dtype = tf.as_dtype(_INDEX if dtype is None else dtype)
    # TensorFlow's CPU kernel covers int32, int64 and floats only
    work = dtype if dtype in (tf.int32, tf.int64) or dtype in _FLOATS else tf.int64
    with _on(device):
        out = tf.range(tf.cast(_t(stop), work) if _is_tensor(stop) else stop, dtype=work)
        return out if work == dtype else tf.cast(out, dtype)


def zeros_like(x: Any, /) -> Any:
    return tf.zeros_like(_t(x))


def ones_like(x: Any, /) -> Any:
    return tf.ones_like(_t(x))


def full_like(x: Any, /, fill_value: Any) -> Any:
    x = _t(x)
    return tf.fill(tf.shape(x), tf.constant(fill_value, dtype=x.dtype))


def astype(x: Any, dtype: Any, /) -> Any:
    x = _t(x)
    return x if x.dtype == tf.as_dtype(dtype) else tf.cast(x, dtype)


# -- element-wise ------------------------------------------------------------------------
def exp(x: Any, /) -> Any:
    return tf.math.exp(_t(x))


def log(x: Any, /) -> Any:
    return tf.math.log(_t(x))


def log1p(x: Any, /) -> Any:
    return tf.math.log1p(_t(x))


def abs(x: Any, /) -> Any:  # noqa: A001
    return tf.math.abs(_t(x))


def isnan(x: Any, /) -> Any:
    return tf.math.is_nan(_t(x))


def isinf(x: Any, /) -> Any:
    return tf.math.is_inf(_t(x))


def isfinite(x: Any, /) -> Any:
    return tf.math.is_finite(_t(x))


def bitwise_right_shift(x1: Any, x2: Any, /) -> Any:
    """``x1 >> x2`` (arithmetic for signed dtypes), with dtype promotion."""
    a, b = _pair(x1, x2)
    return tf.bitwise.right_shift(a, b)


def _nan_either(a: Any, b: Any, out: Any) -> Any:
    if a.dtype not in _FLOATS:
        return out
    return tf.where(tf.math.is_nan(a), a, tf.where(tf.math.is_nan(b), b, out))


def maximum(x1: Any, x2: Any, /) -> Any:
    """Element-wise maximum; NaN if either is NaN."""
    a, b = _pair(x1, x2)
    return _nan_either(a, b, tf.math.maximum(a, b))


def minimum(x1: Any, x2: Any, /) -> Any:
    """Element-wise minimum; NaN if either is NaN."""
    a, b = _pair(x1, x2)
    return _nan_either(a, b, tf.math.minimum(a, b))


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """``x`` clipped to ``[min, max]`` (numbers or tensors; NaN stays NaN)."""
    x = _t(x)
    if min is not None:
        x = maximum(x, min)
    if max is not None:
        x = minimum(x, max)
    return x


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    """``tf.where`` with broadcasting and dtype promotion."""
    a, b = _pair(x1, x2)
    return tf.where(_t(condition), a, b)


# -- reductions -------------------------------------------------------------------------------
def max(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:  # noqa: A001
    """``tf.reduce_max`` that propagates NaN (a slice with a NaN gives NaN).
    An empty slice gives -inf, not an error."""
    x = _t(x)
    out = tf.reduce_max(x, axis=axis, keepdims=keepdims)
    if x.dtype in _FLOATS:
        has_nan = tf.reduce_any(tf.math.is_nan(x), axis=axis, keepdims=keepdims)
        out = tf.where(has_nan, tf.constant(math.nan, x.dtype), out)
    return out


def sum(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:  # noqa: A001
    """``tf.reduce_sum``, in ``x``'s dtype."""
    return tf.reduce_sum(_t(x), axis=axis, keepdims=keepdims)


def mean(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:
    return tf.reduce_mean(_t(x), axis=axis, keepdims=keepdims)


def any(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:  # noqa: A001
    """``tf.reduce_any`` of a boolean tensor."""
    return tf.reduce_any(_t(x), axis=axis, keepdims=keepdims)


def all(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:  # noqa: A001
    """``tf.reduce_all`` of a boolean tensor."""
    return tf.reduce_all(_t(x), axis=axis, keepdims=keepdims)


def argmax(x: Any, /, *, axis: Any = None, keepdims: builtins.bool = False) -> Any:
    """``tf.math.argmax`` (int64): the first index of ties, and the first NaN
    of a slice holding one (as NumPy). ``axis=None``: of the flattened tensor."""
    x = _t(x)
    if axis is None:
        out = argmax(tf.reshape(x, [-1]), axis=0)
        return tf.reshape(out, [1] * x.shape.rank) if keepdims else out
    out = tf.math.argmax(x, axis=axis, output_type=_INDEX)
    if x.dtype in _FLOATS:
        isn = tf.math.is_nan(x)
        first_nan = tf.math.argmax(tf.cast(isn, tf.int8), axis=axis, output_type=_INDEX)
        out = tf.where(tf.reduce_any(isn, axis=axis), first_nan, out)
    return tf.expand_dims(out, axis) if keepdims else out


# -- sorting ------------------------------------------------------------------------------------
def _to_last(x: Any, axis: builtins.int) -> tuple[Any, list[builtins.int] | None]:
    nd = x.shape.rank
    axis = axis % nd
    if axis == nd - 1:
        return x, None
    perm = [i for i in range(nd) if i != axis] + [axis]
    return tf.transpose(x, perm), perm


def _from_last(x: Any, perm: list[builtins.int] | None) -> Any:
    if perm is None:
        return x
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tf.transpose(x, inv)


def _gather_last(x: Any, idx: Any) -> Any:
    return tf.gather(x, idx, axis=-1, batch_dims=x.shape.rank - 1)


def argsort(x: Any, /, *, axis: builtins.int = -1, descending: builtins.bool = False,
            stable: builtins.bool = True) -> Any:
    """Stable ``tf.argsort`` (int64; always stable) with NaN last in both
    directions, as NumPy's ``argsort(x)`` and ``argsort(-x)``."""
    x = _t(x)
    xl, perm = _to_last(x, axis)
    direction = "DESCENDING" if descending else "ASCENDING"
    if x.dtype not in _FLOATS:
        return _from_last(tf.cast(tf.argsort(xl, -1, direction, stable=True), _INDEX), perm)
    isn = tf.math.is_nan(xl)
    fill = tf.constant(-math.inf if descending else math.inf, xl.dtype)
    order = tf.argsort(tf.where(isn, fill, xl), -1, direction, stable=True)

    def nan_last() -> Any:
        flags = _gather_last(tf.cast(isn, tf.int32), order)
        return _gather_last(order, tf.argsort(flags, -1, "ASCENDING", stable=True))

    order = tf.cond(tf.reduce_any(isn), nan_last, lambda: order)
    return _from_last(tf.cast(order, _INDEX), perm)


# -- shapes -----------------------------------------------------------------------------------
def reshape(x: Any, /, shape: Sequence[Any]) -> Any:
    """``tf.reshape``; ``shape`` may hold scalar tensors (unknown dimensions)."""
    return tf.reshape(_t(x), list(shape))


def expand_dims(x: Any, /, *, axis: builtins.int = 0) -> Any:
    return tf.expand_dims(_t(x), axis)


def squeeze(x: Any, /, axis: builtins.int) -> Any:
    """``x`` without ``axis``, which must have size 1 (ValueError if known
    to have another)."""
    x = _t(x)
    d = x.shape[axis]
    if d is not None and d != 1:
        raise ValueError(f"cannot squeeze axis {axis} of size {d}")
    return tf.squeeze(x, axis=[axis])


def stack(arrays: Sequence[Any], /, *, axis: builtins.int = 0) -> Any:
    """``tf.stack`` of tensors of one dtype."""
    return tf.stack([_t(a) for a in arrays], axis=axis)


def moveaxis(x: Any, source: builtins.int, destination: builtins.int, /) -> Any:
    x = _t(x)
    nd = x.shape.rank
    order = [i for i in range(nd) if i != source % nd]
    order.insert(destination % nd, source % nd)
    return tf.transpose(x, order)
