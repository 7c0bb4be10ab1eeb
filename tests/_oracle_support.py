"""Shared helpers of the ``test_oracle_*`` files: independent references.

Nothing here calls gumbelxp: arrays are converted with each framework's own
functions, and every expected value comes from a float64 NumPy formula,
SciPy, or a framework's own distribution code. Each test file loads it by
path (``tests/`` is not a package).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

P_MIN = 1e-4  # a correct sampler fails a check at this level ~1e-4 of the time
Z_MAX = 4.5  # two-sided z bound for moment checks (p ~ 7e-6)
EULER = 0.5772156649015329
GUMBEL_VAR = math.pi**2 / 6
PROBS = np.array([0.1, 0.2, 0.3, 0.4])
LOGITS = np.log(PROBS)

ALL_BACKENDS = ("numpy", "torch", "jax", "tensorflow", "array_api_strict", "dask")
_MODULE = {"numpy": "numpy", "torch": "torch", "jax": "jax", "tensorflow": "tensorflow",
           "array_api_strict": "array_api_strict", "dask": "dask"}


def installed(name: str) -> bool:
    return importlib.util.find_spec(_MODULE[name]) is not None


def backends(*names: str) -> list[str]:
    """The names among ``names`` (default: all) whose framework is installed."""
    return [n for n in (names or ALL_BACKENDS) if installed(n)]


# ---------------------------------------------------------------------------
# conversion, with each framework's own functions
# ---------------------------------------------------------------------------
def asarray(name: str, a, dtype: str | None = None, requires_grad: bool = False):
    """NumPy data as an array of framework ``name``, cast to ``dtype``."""
    a = np.asarray(a)
    if name == "numpy":
        return a.astype(dtype) if dtype else a.copy()
    if name == "torch":
        import torch

        t = torch.tensor(np.array(a, order="C"))
        if dtype:
            t = t.to(getattr(torch, dtype))
        return t.requires_grad_(True) if requires_grad else t
    if name == "jax":
        import jax.numpy as jnp

        x = jnp.asarray(a)
        return x.astype(getattr(jnp, dtype)) if dtype else x
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.constant(a)
        return tf.cast(x, getattr(tf, dtype)) if dtype else x
    if name == "array_api_strict":
        import array_api_strict as xps

        x = xps.asarray(a)
        return xps.astype(x, getattr(xps, dtype)) if dtype else x
    if name == "dask":
        import dask.array as da

        return da.from_array(a.astype(dtype) if dtype else a, chunks=-1)
    raise ValueError(name)


def to_np(x) -> np.ndarray:
    """Any framework's array as a NumPy array (half precision as float32)."""
    mod = type(x).__module__.split(".")[0]
    if mod == "torch":
        x = x.detach().cpu()
        if x.dtype.is_floating_point and x.dtype.itemsize < 4:
            x = x.float()
        return x.numpy()
    if mod == "tensorflow":
        import tensorflow as tf

        if x.dtype in (tf.bfloat16, tf.float16):
            x = tf.cast(x, tf.float32)
        return np.asarray(x.numpy())
    if mod == "dask":
        return np.asarray(x.compute())
    a = np.asarray(x)
    if a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    return a


def dtype_name(x) -> str:
    return str(x.dtype).split(".")[-1].replace("'>", "").replace("<dtype: '", "")


def is_float_dtype_supported(name: str, dtype: str) -> bool:
    if name == "jax" and dtype == "float64":
        import jax

        return bool(jax.config.read("jax_enable_x64"))
    if name in ("array_api_strict", "dask", "numpy") and dtype == "bfloat16":
        return False
    if name == "array_api_strict" and dtype == "float16":
        return False
    return True


# ---------------------------------------------------------------------------
# float64 references
# ---------------------------------------------------------------------------
def softmax64(z, axis=-1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=axis, keepdims=True)


def tau_per_slice(tau, ndim: int, axis: int):
    """A per-slice tau (the logits' shape without ``axis``) with ``axis``
    put back as size 1; numbers and 0-d arrays unchanged."""
    t = np.asarray(tau, dtype=np.float64)
    if t.ndim == ndim - 1 and ndim > 1:
        t = np.expand_dims(t, axis)
    return t


def ref_gumbel_softmax(x, g, tau, axis=-1) -> np.ndarray:
    """``softmax((x + g) / tau)`` in float64, ``tau`` a number or per slice."""
    x = np.asarray(x, dtype=np.float64)
    s = x + np.asarray(g, dtype=np.float64)
    ax = axis % x.ndim
    t = tau_per_slice(tau, x.ndim, ax)
    m = np.max(s, axis=ax, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = np.where(s == -np.inf, -np.inf, (s - m) / t)
    e = np.exp(z)
    return e / e.sum(axis=ax, keepdims=True)


def one_hot(idx, n, axis=-1) -> np.ndarray:
    idx = np.asarray(idx)
    out = np.moveaxis(np.zeros(idx.shape + (n,)), -1, axis)
    np.put_along_axis(out, np.expand_dims(idx, axis), 1.0, axis=axis)
    return out


def top_gap(s, axis=-1) -> float:
    """The smallest gap, relative to scale, between the two largest entries
    of each slice: hard/argmax references are reliable when it is not tiny."""
    s = np.sort(np.moveaxis(np.asarray(s, dtype=np.float64), axis, -1), axis=-1)
    if s.shape[-1] < 2 or s.size == 0:
        return math.inf
    top, second = s[..., -1], s[..., -2]
    with np.errstate(invalid="ignore"):
        gap = np.where(np.isneginf(second), np.inf, (top - second) / (1.0 + np.abs(top)))
    return float(np.min(gap))


def concrete_log_prob64(y, logits, tau, axis=-1) -> np.ndarray:
    """Maddison et al. (2017) eq. 2 in float64, broadcasting y and logits."""
    y, x = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(logits, np.float64))
    ax = axis % y.ndim
    t = tau_per_slice(tau, y.ndim, ax)
    n = y.shape[ax]
    ly = np.log(y)
    a = x - t * ly
    m = a.max(axis=ax, keepdims=True)
    lse = np.log(np.exp(a - m).sum(axis=ax, keepdims=True)) + m
    lp = (math.lgamma(n) + (n - 1) * np.log(t) + np.sum(x - (t + 1) * ly, axis=ax, keepdims=True)
          - n * lse)
    return np.squeeze(lp, axis=ax)


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def ks_gumbel_p(sample, loc=0.0, scale=1.0) -> float:
    from scipy import stats

    s = np.asarray(sample, dtype=np.float64).ravel()
    return float(stats.kstest(s, stats.gumbel_r(loc=loc, scale=scale).cdf).pvalue)


def ks_logistic_p(sample) -> float:
    from scipy import stats

    s = np.asarray(sample, dtype=np.float64).ravel()
    return float(stats.kstest(s, stats.logistic.cdf).pvalue)


def gumbel_moment_z(sample, loc=0.0, scale=1.0) -> tuple[float, float]:
    """z-scores of the sample mean and variance against Gumbel(loc, scale)
    (excess kurtosis 12/5, so Var(s^2) ~ 4.4 sigma^4 / n)."""
    s = np.asarray(sample, dtype=np.float64).ravel()
    n = s.size
    var = GUMBEL_VAR * scale**2
    zm = (s.mean() - (loc + EULER * scale)) / math.sqrt(var / n)
    zv = (s.var() - var) / math.sqrt(4.4 * var**2 / n)
    return float(zm), float(zv)


def chi2_p(counts, probs) -> float:
    from scipy import stats

    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    keep = probs > 0
    if counts[~keep].sum() != 0:
        return 0.0  # a zero-probability category was drawn
    return float(stats.chisquare(counts[keep], counts.sum() * probs[keep] / probs[keep].sum())
                 .pvalue)
