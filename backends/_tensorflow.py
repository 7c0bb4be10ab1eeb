"""TensorFlow adapter: ``tf.Tensor`` (eager or symbolic) and ``tf.Variable``.

No released array-api-compat supports TensorFlow, so ``namespace`` is our
own module :mod:`gumbelxp.backends._tf_namespace`, built on TensorFlow ops.
To switch to a future ``array_api_compat.tensorflow``, set
``namespace_module`` below and delete the ``namespace`` override.

Random numbers (all on the open interval (0, 1)):

* ``rng=None``: ``tf.random.get_global_generator()`` (fetched with
  ``tf.init_scope`` so that a first use inside ``tf.function`` does not create
  it inside the graph);
* an ``int`` seed: ``tf.random.stateless_uniform`` with ``alg="philox"`` and
  the seed split into its two 32-bit halves: the same seed gives the same
  numbers eagerly, inside ``tf.function`` and with ``jit_compile=True``
  (``alg="auto_select"`` would not: XLA picks another algorithm);
* a ``tf.random.Generator``: its ``uniform``; its state advances, also when
  called inside ``tf.function``.

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

from functools import cached_property
from typing import Any

import tensorflow as tf

from ._base import Backend, check_seed

_MASK = 0xFFFFFFFF


def _no_autograph() -> None:
    """Ask AutoGraph to run gumbelxp as plain Python when ``tf.function``
    traces it, as it does for NumPy, Keras and TensorFlow itself: the library's
    branches are on Python values (shapes, dtypes, arguments), never on tensor
    values, so converting them would only slow tracing down and turn a clear
    Python error into a graph one. Uses AutoGraph's internal rule list; if
    that moves, tracing still works (converted), only slower."""
    try:
        from tensorflow.python.autograph.core import config

        rule = config.DoNotConvert("gumbelxp")
        if not any(getattr(r, "module_prefix", None) == "gumbelxp"
                   for r in config.CONVERSION_RULES):
            config.CONVERSION_RULES = (rule, *config.CONVERSION_RULES)
    except Exception:  # pragma: no cover - a TensorFlow without this internal
        pass


_no_autograph()


class TensorflowBackend(Backend):
    name = "tensorflow"
    module = "tensorflow"
    has_autograd = True
    generator_name = "tf.random.Generator"
    # tf.Tensor has no uint32 multiply-high; int64 multiplies wrap and keep
    # the exact low 64 bits of a 32 x 32 bit product (also under XLA).
    philox_int = "int64"

    def array_types(self):
        return (tf.Tensor, tf.Variable)

    @cached_property
    def namespace(self) -> Any:
        """Our array-API module for ``tf.Tensor`` (see the module docstring)."""
        from . import _tf_namespace

        return _tf_namespace

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None) -> Any:
        return self.namespace.asarray(obj, dtype=dtype, device=device)

    def shape(self, x: Any) -> tuple:
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

    def default_float(self) -> Any:
        return tf.float32

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        if x.dtype == tf.bfloat16:
            x = tf.cast(x, tf.float32)
        return np.asarray(x.numpy())

    # -- random numbers ------------------------------------------------------
    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, tf.random.Generator)

    def default_generator(self, device: Any = None) -> tf.random.Generator:
        with tf.init_scope():
            return tf.random.get_global_generator()

    def uniform(self, rng, shape, dtype, device):
        shape = [d for d in shape]  # ints and/or scalar tensors; auto-packed by TF
        dtype = tf.as_dtype(dtype)
        ctx = tf.device(device) if device else _null()
        with ctx:
            if isinstance(rng, int):
                seed = check_seed(rng)
                key = tf.constant([seed & _MASK, seed >> 32], dtype=tf.int64)
                u = tf.random.stateless_uniform(shape, seed=key, dtype=dtype, alg="philox")
            else:
                if rng is None:
                    rng = self.default_generator()
                u = rng.uniform(shape, dtype=dtype)
        # k * 2**-23 / k * 2**-52 with k >= 0: the zero cell to its midpoint.
        half_cell = self.namespace.finfo(dtype).eps * 0.5
        return tf.maximum(u, tf.constant(half_cell, dtype=dtype))

    def portable_noise(self, rng, shape, dtype, device, like=None):
        """PortableRNG noise; its counter is a Python int that advances by the
        number of elements when the function is traced, so every dimension
        must be known then."""
        if not all(isinstance(d, int) for d in shape):
            raise ValueError(
                f"gumbelxp.PortableRNG needs a fully known shape, got "
                f"{tuple(d if isinstance(d, int) else None for d in shape)} inside tf.function: "
                "its counter cannot advance by an unknown amount. Give the tf.function an "
                "input_signature with known dimensions, or use an int seed or a "
                "tf.random.Generator"
            )
        return super().portable_noise(rng, shape, dtype, device, like=like)

    # -- fast paths: TensorFlow's fused kernels -----------------------------
    # A TF graph pays per op, so one fused kernel beats the generic
    # expressions of the base class (same values, forward and backward).
    def softmax(self, z, axis):
        return _whole_nan(tf.nn.softmax(z, axis=axis), axis)

    def softmax_exp_noise(self, x, e_noise, axis):
        # softmax(x - log E): the kernel shifts by each slice's max itself, so
        # nothing overflows and -inf gives exactly 0.
        return _whole_nan(tf.nn.softmax(x - tf.math.log(e_noise), axis=axis), axis)

    def one_hot_argmax(self, scores, like, axis):
        # TF's own argmax (it skips NaN; the namespace's NaN-aware one costs
        # several more ops): a NaN slice's row is NaN whatever the index
        return tf.one_hot(tf.argmax(scores, axis=axis), self.shape(like)[axis], axis=axis,
                          dtype=like.dtype)

    def one_hot(self, idx, like, axis, nan=None):
        y = tf.one_hot(tf.squeeze(idx, axis=axis), self.shape(like)[axis], axis=axis,
                       dtype=like.dtype)
        return y if nan is None else y - nan

    # -- autograd ------------------------------------------------------------
    def stop_gradient(self, x):
        return tf.stop_gradient(x)

    def vjp(self, f, args, cotangent):
        args = tuple(tf.convert_to_tensor(a) for a in args)
        with tf.GradientTape() as tape:
            for a in args:
                tape.watch(a)
            out = f(*args)
        grads = tape.gradient(out, list(args), output_gradients=cotangent)
        return out, tuple(grads)

    # -- execution -----------------------------------------------------------
    def is_concrete(self, x) -> bool:
        """False while tracing (``tf.function`` graph mode)."""
        if not tf.executing_eagerly():
            return False
        return isinstance(x, tf.Variable) or hasattr(x, "numpy")

    # -- information ---------------------------------------------------------
    def version(self) -> str:
        return tf.__version__

    def devices(self) -> list[str]:
        return [d.name for d in tf.config.list_logical_devices()]


def _whole_nan(y, axis):
    """tf.nn.softmax's max skips NaN, so a slice with a NaN (or +inf, or a
    NaN made from them) comes out only partly NaN; its sum is NaN, and adding
    ``sum - sum`` makes the whole slice NaN, as on every backend."""
    s = tf.stop_gradient(tf.reduce_sum(y, axis=axis, keepdims=True))
    return y + (s - s)


def _null():
    import contextlib

    return contextlib.nullcontext()


BACKEND = TensorflowBackend()
