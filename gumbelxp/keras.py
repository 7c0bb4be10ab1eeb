"""Keras 3 layers: Gumbel-Softmax and Gumbel-sigmoid bottlenecks.

The same layers run on Keras's TensorFlow, JAX and PyTorch backends. Their
noise comes from a :class:`keras.random.SeedGenerator`, so
``keras.utils.set_random_seed`` (or the layer's ``seed``) makes training
repeat, and on JAX the layer needs no key. In inference (``training`` False
or not given, as for ``Dropout``) they draw no noise: ``softmax(logits /
tau)`` or ``sigmoid(logits / tau)``, or with ``hard=True`` its one-hot or
0/1 value.

Importing this module imports Keras (``pip install "gumbelxp[keras]"``);
``import gumbelxp`` alone does not.

Examples
--------
>>> import numpy as np, keras, gumbelxp.keras as gxk
>>> layer = gxk.GumbelSoftmax(tau=0.5, hard=True, seed=0)
>>> y = keras.ops.convert_to_numpy(layer(np.zeros((2, 3), "float32"), training=True))
>>> y.sum(axis=-1).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from typing import Any, cast

import keras as _keras  # pyright: ignore[reportMissingTypeStubs]

import gumbelxp as gx

__all__ = ["GumbelSoftmax", "GumbelSigmoid"]

#: Keras ships no type information (no ``py.typed``): ``Any`` to type checkers
keras: Any = _keras


def _open_uniform(layer: _Noisy, logits: Any) -> Any:
    """Uniforms on the open interval (0, 1) of the logits' shape, in float32
    (at least), from the layer's seed generator."""
    dtype = "float64" if keras.backend.standardize_dtype(logits.dtype) == "float64" else "float32"
    tiny = 2.0**-126 if dtype == "float32" else 2.0**-1022
    return keras.random.uniform(keras.ops.shape(logits), minval=tiny, maxval=1.0, dtype=dtype,
                                seed=layer.seed_generator)


class _Noisy(keras.layers.Layer):  # type: ignore[misc]  # Layer is Any (untyped Keras)
    def __init__(self, tau: float = 1.0, hard: bool = False, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)  # pyright: ignore[reportUnknownMemberType]  (untyped Keras)
        tau = float(tau)
        if not (tau > 0 and tau < float("inf")):
            raise ValueError(f"tau must be finite and > 0, got {tau}")
        self.tau, self.hard, self.seed = tau, bool(hard), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def get_config(self) -> dict[str, Any]:
        base = cast("dict[str, Any]", super().get_config())  # pyright: ignore[reportUnknownMemberType]
        return {**base, "tau": self.tau, "hard": self.hard, "seed": self.seed}

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class GumbelSoftmax(_Noisy):
    """A Gumbel-Softmax sample of its input logits.

    Parameters
    ----------
    tau : float
        Temperature > 0.
    hard : bool
        Forward an exact one-hot, backward the soft sample's gradient
        (straight-through).
    axis : int
        The categories' axis.
    seed : int, optional
        Seed of the layer's ``keras.random.SeedGenerator`` (default: drawn
        from Keras's global seed, which ``keras.utils.set_random_seed`` sets).

    Notes
    -----
    Called with ``training=True`` (as ``fit`` does) it returns
    ``gumbelxp.gumbel_softmax(logits, tau, hard, axis)`` with noise from the
    seed generator; otherwise ``softmax(logits / tau)`` (its one-hot if
    ``hard``), with no noise.
    """

    def __init__(self, tau: float = 1.0, hard: bool = False, axis: int = -1,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(tau, hard, seed, **kwargs)
        self.axis = int(axis)

    def call(self, logits: Any, training: bool | None = None) -> Any:
        if training:
            u = _open_uniform(self, logits)
            g = -keras.ops.log(-keras.ops.log(u))
        else:
            g = keras.ops.zeros_like(logits)  # softmax(logits / tau): no noise
        return gx.gumbel_softmax(logits, self.tau, hard=self.hard, axis=self.axis, noise=g)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class GumbelSigmoid(_Noisy):
    """A binary Concrete (relaxed Bernoulli) sample of its input logits,
    elementwise: ``sigmoid((logits + l) / tau)`` with logistic noise ``l``.

    Parameters
    ----------
    tau : float
        Temperature > 0.
    hard : bool
        Forward exactly 0 or 1, backward the soft sample's gradient.
    seed : int, optional
        As for :class:`GumbelSoftmax`.

    Notes
    -----
    Called with ``training=True`` it returns ``gumbelxp.gumbel_sigmoid``
    with noise from the seed generator; otherwise ``sigmoid(logits / tau)``
    (thresholded at 1/2 if ``hard``), with no noise.
    """

    def call(self, logits: Any, training: bool | None = None) -> Any:
        if training:
            u = _open_uniform(self, logits)
            n = keras.ops.log(u) - keras.ops.log1p(-u)
        else:
            n = keras.ops.zeros_like(logits)
        return gx.gumbel_sigmoid(logits, self.tau, hard=self.hard, noise=n)


# so that saved models find the layers (what the decorator of that name does)
_register = keras.saving.register_keras_serializable(package="gumbelxp")
_register(GumbelSoftmax)
_register(GumbelSigmoid)
