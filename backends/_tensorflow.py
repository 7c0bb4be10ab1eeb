"""TensorFlow adapter: ``tf.Tensor`` (eager or symbolic) and ``tf.Variable``.

No released array-api-compat supports TensorFlow, so ``namespace`` is our
own module :mod:`gumbelxp.backends._tf_namespace`, built on TensorFlow ops.
To switch to a future ``array_api_compat.tensorflow``, set
``namespace_module`` below and delete the ``namespace`` override.

Random numbers (all on the open interval (0, 1)):

* ``rng=None``: ``tf.random.uniform``, which follows the global seed, so
  ``tf.random.set_seed`` and ``keras.utils.set_random_seed`` make runs
  repeat, as they do for TensorFlow's own random ops;
* a stateless seed, as ``tf.random.stateless_uniform(seed=...)`` takes it (a
  pair of ints or an integer tensor of shape ``[2]``), or an ``int`` seed
  (split into its two 32-bit halves): TensorFlow's stateless Philox bits,
  turned into floats here, so the same seed gives the same numbers eagerly,
  inside ``tf.function`` and with ``jit_compile=True`` (TensorFlow's own
  float conversion differs under XLA when the seed is a runtime tensor);
* a ``tf.random.Generator``: its ``uniform``; its state advances, also when
  called inside ``tf.function``;
* a PortableRNG: its stream, from TensorFlow's own Philox op with the key
  and counter set to it (:func:`philox_words`).

TensorFlow's uniforms are ``k * 2**-23`` (float32) or ``k * 2**-52``
(float64), ``k >= 0``: the zero cell is moved to its midpoint.

Execution modes: everything works eagerly, in ``tf.function`` (shapes may have
unknown dimensions: :meth:`TensorflowBackend.shape` returns scalar tensors
for those) and with ``jit_compile=True``. ``validate=True`` reads values, so
inside ``tf.function`` it raises ``ValueError`` at trace time; validate
eagerly, or check the output for NaN. ``PortableRNG`` needs a static shape
(its counter is a Python int advanced at trace time).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Sequence
from functools import cached_property
from typing import Any, cast

import numpy as np
import tensorflow as _tensorflow

from ._base import Backend

#: TensorFlow ships no type information (no ``py.typed``; typeshed's partial
#: stubs disagree with it), so both type checkers see it as ``Any`` here.
tf: Any = _tensorflow

_MASK = 0xFFFFFFFF


def _no_autograph() -> None:
    """Ask AutoGraph to run gumbelxp as plain Python when ``tf.function``
    traces it, as it does for NumPy, Keras and TensorFlow itself: the library's
    branches are on Python values (shapes, dtypes, arguments), never on tensor
    values, so converting them would only slow tracing down and turn a clear
    Python error into a graph one. Uses AutoGraph's internal rule list; if
    that moves, tracing still works (converted), only slower."""
    try:
        config: Any = importlib.import_module("tensorflow.python.autograph.core.config")
        rule = config.DoNotConvert("gumbelxp")
        if not any(getattr(r, "module_prefix", None) == "gumbelxp"
                   for r in config.CONVERSION_RULES):
            config.CONVERSION_RULES = (rule, *config.CONVERSION_RULES)
    except Exception:  # pragma: no cover - a TensorFlow without this internal
        pass


_no_autograph()


# ---------------------------------------------------------------------------
# PortableRNG: TensorFlow's own Philox-4x32-10, driven to our stream
# ---------------------------------------------------------------------------
def philox_words(key: tuple[int, int], start: int, n: int) -> Any:
    """PortableRNG's words ``start .. start + n - 1`` as a uint32 tensor,
    from TensorFlow's stateless Philox op (``StatelessRandomUniformFullIntV2``,
    ``alg=1``): its key is the 64-bit seed (``k0`` its low half), its
    128-bit counter the first block ``(b_lo, b_hi, 0, 0)``, and its output
    word ``i`` is word ``i % 4`` of block ``counter + i // 4``: exactly our
    stream, eagerly, in ``tf.function`` and under XLA, which implements the
    op with the same layout (``tests/test_philox_fast.py`` checks all three
    against the pure-Python reference, and the op against Random123's
    vectors). XLA's version (TensorFlow 2.21) departs from Random123 for
    some counters from 2**63 on; PortableRNG's block counters stay below
    2**60."""
    first = start // 4
    off = start - 4 * first
    w = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=tf.constant([off + n], tf.int64),
        key=tf.constant([key[0] | key[1] << 32], tf.uint64),
        counter=tf.constant([first, 0], tf.uint64), alg=1, dtype=tf.uint32)
    return w[off:] if off else w


def _int64(w: Any) -> Any:
    return tf.cast(w, tf.int64)


def gumbel32_from_words(w: Any) -> Any:
    """float32 Gumbel noise from uint32 words with the kernels of
    :func:`gumbelxp._philox.gumbel_from_words` on TensorFlow (so the same
    bits), in 10 ops instead of 15: ``-log(y)`` as ``xlogy(-1, y)`` (whose
    kernel is ``-1 * log(y)``, exact), the top bit as the sign of an int32."""
    wi = tf.bitcast(w, tf.int32)
    r = tf.cast(tf.bitwise.bitwise_and(wi, 0x7FFFFFFF), tf.float32)
    x = (r + 0.5) * 2.0**-32
    m1 = tf.constant(-1.0, tf.float32)
    e = tf.where(wi < 0, tf.math.xlog1py(m1, -x), tf.math.xlogy(m1, x))
    return tf.math.xlogy(m1, e)


def portable_noise(key: tuple[int, int], start: int, n: int, dtype: Any) -> Any:
    """``n`` Gumbel values of ``dtype`` (float32: one word each, float64: two)
    from the words at ``start`` on, equal to ``gumbel_from_words`` on
    TensorFlow bit for bit."""
    if tf.as_dtype(dtype) == tf.float32:
        return gumbel32_from_words(philox_words(key, start, n))
    from .._philox import gumbel_from_words

    w = tf.cast(philox_words(key, start, 2 * n), tf.int64)
    return gumbel_from_words(BACKEND.namespace, tf.reshape(w, (n, 2)), tf.float64)


def _is_stateless_seed(obj: Any) -> bool:
    if isinstance(obj, (tuple, list)):
        pair = cast("Sequence[Any]", obj)
        return len(pair) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in pair)
    return (isinstance(obj, (tf.Tensor, tf.Variable)) and obj.dtype.is_integer
            and obj.shape.rank == 1 and obj.shape[0] == 2)


def _uniform(rng: Any, shape: Any, dtype: Any, device: Any) -> Any:
    dtype = tf.as_dtype(dtype)
    with tf.device(device) if device else contextlib.nullcontext():
        if rng is None:
            u = tf.random.uniform(shape, dtype=dtype)
        elif isinstance(rng, tf.random.Generator):
            u = rng.uniform(shape, dtype=dtype)
        else:
            seed = [rng & _MASK, rng >> 32] if isinstance(rng, int) else rng
            return _stateless_uniform(shape, seed, dtype)
    # k * 2**-23 / k * 2**-52 with k >= 0: the zero cell to its midpoint
    return tf.maximum(u, tf.constant(_EPS[dtype.name] * 0.5, dtype=dtype))


_EPS = {"float32": 2.0**-23, "float64": 2.0**-52}


def _stateless_uniform(shape: Any, seed: Any, dtype: Any) -> Any:
    """Open-interval uniforms from TensorFlow's stateless Philox bits, mapped
    to floats here (float32 ``((w >> 9) + 0.5) * 2**-23``, float64 from two
    words, as PortableRNG maps its words): XLA turns the bits into floats
    otherwise than the CPU kernel does, while the bits agree, so this gives
    the same values eagerly, in ``tf.function`` and with ``jit_compile``."""
    per = 1 if dtype == tf.float32 else 2
    shape = tf.concat([tf.cast(shape, tf.int32), [per]], axis=0)
    w = tf.random.stateless_uniform(shape, seed=seed, minval=None, maxval=None,
                                    dtype=tf.uint32, alg="philox")
    w = tf.cast(w, tf.int64)
    if per == 1:
        return (tf.cast(tf.bitwise.right_shift(w[..., 0], 9), dtype) + 0.5) * 2.0**-23
    hi = tf.cast(tf.bitwise.right_shift(w[..., 0], 6), dtype)
    lo = tf.cast(tf.bitwise.right_shift(w[..., 1], 6), dtype)
    return (hi * 2.0**26 + (lo + 0.5)) * 2.0**-52


def _whole_nan(y: Any, axis: int) -> Any:
    """tf.nn.softmax's max skips NaN, so a slice with a NaN (or +inf) comes
    out only partly NaN; its sum is NaN, and adding ``sum - sum`` makes the
    whole slice NaN, as on every backend."""
    s = tf.stop_gradient(tf.reduce_sum(y, axis=axis, keepdims=True))
    return y + (s - s)


def _gumbel_softmax(x: Any, tau: Any, hard: bool, axis: int, rng: Any) -> Any:
    """TensorFlow's fused kernels (``tf.nn.softmax``, ``tf.one_hot``): a graph
    pays per op, so one kernel beats the generic expressions."""
    from gumbelxp._philox import PhiloxStream

    fi = np.finfo(x.dtype.as_numpy_dtype)
    if not isinstance(tau, float) or not float(fi.smallest_normal) <= tau <= float(fi.max):
        return None
    if isinstance(rng, PhiloxStream):
        shape = BACKEND.shape(x)
        if not all(isinstance(d, int) for d in shape):
            return None  # the generic path says why it cannot
        s = x + rng.draw_on(BACKEND, "gumbel", shape, x.dtype, BACKEND.device(x))
    else:  # x + g = x - log(E), E = -log(u): one elementwise pass fewer
        s = x - tf.math.log(-tf.math.log(_uniform(rng, tf.shape(x), x.dtype, BACKEND.device(x))))
    z = s
    if tau != 1.0:  # shifted first, so that no finite input overflows
        z = (s - tf.stop_gradient(tf.reduce_max(s, axis=axis, keepdims=True))) / tau
    y = _whole_nan(tf.nn.softmax(z, axis=axis), axis)
    if not hard:
        return y
    y_hard = tf.one_hot(tf.argmax(s, axis=axis), tf.shape(x)[axis], axis=axis, dtype=x.dtype)
    return y_hard + (y - tf.stop_gradient(y))


class TensorflowBackend(Backend):
    name = "tensorflow"
    generator_name = "tf.random.Generator"
    # tf.Tensor has no uint32 multiply-high; int64 multiplies wrap and keep
    # the exact low 64 bits of a 32 x 32 bit product (also under XLA).
    philox_int = "int64"
    fast_paths = {"gumbel_softmax": _gumbel_softmax}

    def handles(self, x: Any) -> bool:
        return isinstance(x, (tf.Tensor, tf.Variable))

    @cached_property
    def namespace(self) -> Any:
        """Our array-API module for ``tf.Tensor`` (see the module docstring)."""
        from . import _tf_namespace

        return _tf_namespace

    def shape(self, x: Any) -> tuple[Any, ...]:
        """A tuple of ints; an unknown dimension (``tf.function`` with an
        ``input_signature`` of ``None`` entries) is a scalar int32 tensor
        from ``tf.shape``."""
        static = x.shape
        if static.rank is None:
            raise ValueError("gumbelxp needs tensors of known rank (TensorShape(None) given)")
        dims = static.as_list()
        if all(d is not None for d in dims):
            return tuple(dims)
        dyn = tf.shape(x)
        return tuple(d if d is not None else dyn[i] for i, d in enumerate(dims))

    def device(self, x: Any) -> Any:
        """The tensor's device string; None where TensorFlow has not placed it
        (a symbolic tensor)."""
        try:
            return x.device or None
        except (AttributeError, RuntimeError):
            return None

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, tf.random.Generator) or _is_stateless_seed(obj)

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        return _uniform(rng, list(shape), dtype, device)

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        """TensorFlow's own Philox op driven to the stream (:func:`philox_words`)."""
        from gumbelxp._philox import draw_from

        with tf.device(device) if device else contextlib.nullcontext():
            return draw_from(self.namespace, kind, shape, dtype,
                             lambda n: _int64(philox_words(key, start, n)),
                             lambda n: portable_noise(key, start, n, dtype))

    def stop_gradient(self, x: Any) -> Any:
        return tf.stop_gradient(x)

    def needs_grad(self, *xs: Any) -> bool:
        return True  # a GradientTape may watch anything

    def is_concrete(self, x: Any) -> bool:
        """False while tracing (``tf.function`` graph mode)."""
        if not tf.executing_eagerly():
            return False
        return isinstance(x, tf.Variable) or hasattr(x, "numpy")

    def info(self) -> dict[str, Any]:
        return {"version": tf.__version__,
                "devices": [d.name for d in tf.config.list_logical_devices()]}


BACKEND = TensorflowBackend()
