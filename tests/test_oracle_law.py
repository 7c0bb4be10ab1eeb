"""The law of every sampler, on every generator kind, against SciPy.

For each backend, each kind of ``rng=`` (every NumPy bit generator, a
third-party one, a ``Generator`` subclass, ``None`` after the framework's own
seeding call, int seeds, PortableRNG, JAX keys, TensorFlow generators and
stateless seed pairs), each dtype, and draws below and above 4096 values
(NumPy's raw-word fast path starts there):

* ``gx.gumbel`` passes a Kolmogorov-Smirnov test against
  ``scipy.stats.gumbel_r`` and z-tests of its mean and variance;
* ``gx.gumbel_max`` and ``gx.gumbel_softmax(hard=True)`` frequencies pass a
  chi-square test against ``softmax(logits)`` (the Gumbel-max theorem);
* the soft sample's argmax has the same law, and for two categories ``i, j``
  ``tau * log(y_i / y_j) - (x_i - x_j) = g_i - g_j`` is standard logistic (KS).

Seeds are fixed, so each outcome is deterministic; a correct sampler passes
each check at level 1e-4.
"""

from __future__ import annotations

import _oracle_support as S
import numpy as np
import pytest

import gumbelxp as gx

CALLS_SMALL = 16  # calls of the small regime, each below 4096 values
SMALL_N, SMALL_ROWS = 1000, 250  # values per gumbel call; rows of 4 per logits call
LARGE_SHAPE, LARGE_ROWS = (160, 250), 12000  # one call: 40,000 values; 48,000 logits
FNS = ("gumbel", "gumbel_max", "hard", "soft")


# ---------------------------------------------------------------------------
# NumPy generator kinds
# ---------------------------------------------------------------------------
class MT19937Subclass(np.random.MT19937):
    """A user's bit generator class (32-bit raw output, like MT19937)."""


class GeneratorSubclass(np.random.Generator):
    """A user's Generator subclass that overrides nothing."""


def _splitmix32_bitgen(seed):
    """A tiny third-party bit generator with 32-bit raw words (randomgen's
    UserBitGenerator over SplitMix64's high half)."""
    randomgen = pytest.importorskip("randomgen")
    state = [seed & (2**64 - 1)]

    def next_raw(_):
        state[0] = (state[0] + 0x9E3779B97F4A7C15) & (2**64 - 1)
        z = state[0]
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        return (z ^ (z >> 31)) >> 32

    return randomgen.UserBitGenerator(next_raw, bits=32)


def _randomgen(cls_name, **kw):
    def make(seed):
        randomgen = pytest.importorskip("randomgen")
        return getattr(randomgen, cls_name)(seed, **kw)
    return make


NUMPY_BITGENS = {
    "MT19937": np.random.MT19937,
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
    "MT19937Subclass": MT19937Subclass,
    "randomgen.JSF32": _randomgen("JSF", size=32),
    "randomgen.Philox4x32": _randomgen("Philox", number=4, width=32),
    "randomgen.UserBitGenerator32": _splitmix32_bitgen,
}


def numpy_rng_factory(kind, seed):
    """``i -> rng`` for the i-th call."""
    if kind in NUMPY_BITGENS:
        gen = np.random.Generator(NUMPY_BITGENS[kind](seed))
        return lambda i: gen
    if kind == "GeneratorSubclass(MT19937)":
        gen = GeneratorSubclass(np.random.MT19937(seed))
        return lambda i: gen
    if kind == "None":
        return lambda i: None
    if kind == "int":
        return lambda i: seed * 1000 + i
    if kind == "numpy.int64":
        return lambda i: np.int64(seed * 1000 + i)
    if kind == "PortableRNG":
        prng = gx.PortableRNG(seed)
        return lambda i: prng
    raise ValueError(kind)


def torch_rng_factory(kind, seed):
    import torch

    if kind == "Generator":
        gen = torch.Generator().manual_seed(seed)
        return lambda i: gen
    if kind == "None+manual_seed":
        torch.manual_seed(seed)
        return lambda i: None
    if kind == "int":
        return lambda i: seed * 1000 + i
    if kind == "PortableRNG":
        prng = gx.PortableRNG(seed)
        return lambda i: prng
    raise ValueError(kind)


def jax_rng_factory(kind, seed):
    import jax

    if kind == "key":
        key = jax.random.key(seed)
        return lambda i: jax.random.fold_in(key, i)
    if kind == "PRNGKey(raw)":
        key = jax.random.PRNGKey(seed)
        return lambda i: jax.random.fold_in(key, i)
    if kind == "int":
        return lambda i: seed * 1000 + i
    if kind == "PortableRNG":
        prng = gx.PortableRNG(seed)
        return lambda i: prng
    raise ValueError(kind)


def tf_rng_factory(kind, seed):
    import tensorflow as tf

    if kind == "Generator":
        gen = tf.random.Generator.from_seed(seed)
        return lambda i: gen
    if kind == "None+set_seed":
        tf.random.set_seed(seed)
        return lambda i: None
    if kind == "int":
        return lambda i: seed * 1000 + i
    if kind == "stateless-pair":
        return lambda i: (seed, i)
    if kind == "stateless-tensor":
        return lambda i: tf.constant([seed, i], dtype=tf.int64)
    if kind == "PortableRNG":
        prng = gx.PortableRNG(seed)
        return lambda i: prng
    raise ValueError(kind)


FACTORIES = {"numpy": numpy_rng_factory, "array_api_strict": numpy_rng_factory,
             "torch": torch_rng_factory, "jax": jax_rng_factory,
             "tensorflow": tf_rng_factory}


def _cases():
    """(backend, rng kind, dtype, regime): every kind in float32 in both
    regimes; the other dtypes where the kind and backend have them."""
    out = []
    np_kinds = [*NUMPY_BITGENS, "GeneratorSubclass(MT19937)", "None", "int", "numpy.int64",
                "PortableRNG"]
    numpy_own = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")
    for kind in np_kinds:
        for dtype in ("float32", "float64", "float16"):
            for regime in ("small", "large"):
                # every dtype and regime for NumPy's own bit generators; the
                # other kinds in float32, and float16 above 4096 values (both
                # use NumPy's raw-word uniforms there)
                if kind in numpy_own or dtype == "float32" or (
                        regime == "large" and dtype == "float16"):
                    out.append(("numpy", kind, dtype, regime))
    for kind in ("MT19937", "PCG64", "None"):
        for dtype in ("float32", "float64"):
            for regime in ("small", "large"):
                out.append(("array_api_strict", kind, dtype, regime))
    for kind in ("Generator", "None+manual_seed", "int", "PortableRNG"):
        for dtype in ("float32", "float64", "float16", "bfloat16"):
            for regime in ("small", "large"):
                out.append(("torch", kind, dtype, regime))
    # JAX compiles every new shape: fewer cases (PortableRNG's law is
    # checked on the other backends, its equality across backends elsewhere)
    for kind, dtype, regime in (("key", "float32", "small"), ("key", "float32", "large"),
                                ("key", "float16", "large"), ("key", "bfloat16", "large"),
                                ("PRNGKey(raw)", "float32", "large"),
                                ("int", "float32", "small"), ("int", "float32", "large")):
        out.append(("jax", kind, dtype, regime))
    tf_cases = {
        "Generator": [(d, r) for d in ("float32", "float64", "float16", "bfloat16")
                      for r in ("small", "large")],
        "None+set_seed": [("float32", "small"), ("float32", "large"), ("float16", "large"),
                          ("bfloat16", "large")],
        "int": [("float32", "small"), ("float32", "large"), ("float64", "large")],
        "stateless-pair": [("float32", "small"), ("float32", "large"), ("float64", "large")],
        "stateless-tensor": [("float32", "small")],
        "PortableRNG": [("float32", "small")],
    }
    for kind, pairs in tf_cases.items():
        for dtype, regime in pairs:
            out.append(("tensorflow", kind, dtype, regime))
    return [c for c in out if S.installed(c[0])]


CASES = _cases()
IDS = ["-".join(c) for c in CASES]


def _logits(be, rows, dtype):
    return S.asarray(be, np.broadcast_to(S.LOGITS, (rows, 4)), dtype)


def _draws(be, kind, dtype, regime, fn, seed=20240601, tau=0.5):
    """NumPy results of ``fn`` for every call of the regime."""
    rng_at = FACTORIES[be](kind, seed)
    calls = CALLS_SMALL if regime == "small" else 1
    out = []
    for i in range(calls):
        rng = rng_at(i)
        if fn == "gumbel":
            shape = (SMALL_N,) if regime == "small" else LARGE_SHAPE
            r = gx.gumbel(shape, xp=be, dtype=dtype, rng=rng)
            assert tuple(r.shape) == shape
            assert S.dtype_name(r) == dtype
        else:
            x = _logits(be, SMALL_ROWS if regime == "small" else LARGE_ROWS, dtype)
            if fn == "gumbel_max":
                r = gx.gumbel_max(x, rng=rng)
            elif fn == "hard":
                r = gx.gumbel_softmax(x, tau, hard=True, rng=rng)
            else:
                r = gx.gumbel_softmax(x, tau, rng=rng)
            if fn != "gumbel_max":
                assert S.dtype_name(r) == dtype
        out.append(S.to_np(r))
    if calls > 1 and kind not in ("int", "numpy.int64"):
        assert not all(np.array_equal(out[0], o) for o in out[1:]), \
            "every call gave the same values: the generator's state did not advance"
    return out


@pytest.mark.parametrize("fn", FNS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_law(case, fn):
    be, kind, dtype, regime = case
    if fn == "soft" and regime == "small":
        taus = (1.0, 0.5)  # tau = 1 has its own path
    else:
        taus = (0.5,) if fn in ("soft", "hard") else (None,)
    for tau in taus:
        draws = _draws(be, kind, dtype, regime, fn, tau=tau)
        data = np.concatenate([d.reshape(-1, *d.shape[1:]) if d.ndim else d[None]
                               for d in draws])
        where = f"{be} rng={kind} {dtype} {regime} {fn} tau={tau}"
        # rng=None on NumPy cannot be seeded: a lower level keeps such a run
        # from failing by chance (a wrong law still gives p ~ 0)
        pmin = S.P_MIN / 100 if kind == "None" else S.P_MIN
        if fn == "gumbel":
            assert np.isfinite(data).all(), where
            p = S.ks_gumbel_p(data)
            zm, zv = S.gumbel_moment_z(data)
            assert p > pmin, f"{where}: KS p={p:.2e}, mean={data.mean():.4f} var={data.var():.4f}"
            assert abs(zm) < S.Z_MAX and abs(zv) < S.Z_MAX, \
                f"{where}: mean={data.mean():.4f} (z={zm:.1f}) var={data.var():.4f} (z={zv:.1f})"
            continue
        if fn == "gumbel_max":
            counts = np.bincount(data.astype(np.int64).ravel(), minlength=4)
        else:
            assert not np.isnan(data).any(), where
            if fn == "hard":
                assert set(np.unique(data)) <= {0.0, 1.0}, f"{where}: not one-hot"
                assert (data.sum(axis=-1) == 1).all(), f"{where}: not one-hot"
                counts = data.astype(np.float64).sum(axis=0)
            else:
                np.testing.assert_allclose(data.sum(axis=-1), 1.0,
                                           atol=2e-2 if dtype in ("float16", "bfloat16") else 1e-5)
                counts = np.bincount(np.argmax(data, axis=-1), minlength=4)
        p = S.chi2_p(counts, S.PROBS)
        freq = np.round(counts / counts.sum(), 4)
        assert p > pmin, f"{where}: frequencies {freq} vs {S.PROBS}, chi-square p={p:.2e}"
        if fn == "soft" and dtype in ("float32", "float64"):
            # g_i - g_j is standard logistic: the soft values themselves, not only argmax
            t = tau
            for i, j in ((0, 3), (1, 2)):
                with np.errstate(divide="ignore"):
                    d = t * (np.log(data[:, i].astype(np.float64))
                             - np.log(data[:, j].astype(np.float64)))
                d = d - (S.LOGITS[i] - S.LOGITS[j])
                d = d[np.isfinite(d)]  # an underflowed y (tiny) cannot be compared
                assert d.size > 0.99 * data.shape[0], where
                pl = S.ks_logistic_p(d)
                assert pl > pmin, f"{where}: tau*log(y{i}/y{j}) not logistic, KS p={pl:.2e}"


# ---------------------------------------------------------------------------
# loc and scale: scipy.stats.gumbel_r(loc, scale), numbers and arrays
# ---------------------------------------------------------------------------
LOC_SCALE_BACKENDS = S.backends("numpy", "torch", "jax", "tensorflow", "array_api_strict",
                                "dask")


@pytest.mark.parametrize("be", LOC_SCALE_BACKENDS)
def test_loc_scale_law(be):
    rng = gx.PortableRNG(7)
    n = 40_000
    # numbers, NumPy scalars
    for loc, scale in ((2.0, 3.0), (np.float64(-1.5), np.float32(0.25))):
        g = S.to_np(gx.gumbel((n,), xp=be, dtype="float32", loc=loc, scale=scale, rng=rng))
        p = S.ks_gumbel_p(g, float(loc), float(scale))
        assert p > S.P_MIN, f"{be}: loc={loc} scale={scale}: KS p={p:.2e}"
    # arrays of the backend, broadcast to the shape: one column per (loc, scale)
    locs = np.array([0.0, 10.0, -3.0])
    scales = np.array([1.0, 0.5, 4.0])
    g = S.to_np(gx.gumbel((n // 3, 3), xp=be, dtype="float32",
                          loc=S.asarray(be, locs, "float32"),
                          scale=S.asarray(be, scales, "float32"), rng=rng))
    assert g.shape == (n // 3, 3)
    for j in range(3):
        p = S.ks_gumbel_p(g[:, j], locs[j], scales[j])
        assert p > S.P_MIN, f"{be}: column {j} loc={locs[j]} scale={scales[j]}: KS p={p:.2e}"


# ---------------------------------------------------------------------------
# the frameworks' own samplers as a second oracle (two-sample tests)
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_two_sample_against_torch_and_jax_samplers():
    from scipy import stats

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)  # torch.distributions draws from the global generator
    n = 30_000
    ours = S.to_np(gx.gumbel((n,), xp="torch", rng=torch.Generator().manual_seed(3)))
    theirs = torch.distributions.Gumbel(0.0, 1.0).sample((n,)).numpy()
    assert stats.ks_2samp(ours, theirs).pvalue > S.P_MIN
    x = torch.tensor(np.broadcast_to(S.LOGITS, (n, 4)).copy(), dtype=torch.float32)
    a = np.bincount(S.to_np(gx.gumbel_max(x, rng=4)), minlength=4)
    b = np.bincount(torch.distributions.Categorical(logits=x).sample().numpy(), minlength=4)
    assert stats.chi2_contingency(np.stack([a, b])).pvalue > S.P_MIN
    if S.installed("jax"):
        import jax

        ours = S.to_np(gx.gumbel((n,), xp="jax", rng=jax.random.key(5)))
        theirs = np.asarray(jax.random.gumbel(jax.random.key(6), (n,)))
        assert stats.ks_2samp(ours, theirs).pvalue > S.P_MIN
        xj = jax.numpy.asarray(np.broadcast_to(S.LOGITS, (n, 4)), dtype="float32")
        a = np.bincount(S.to_np(gx.gumbel_max(xj, rng=jax.random.key(7))), minlength=4)
        b = np.bincount(np.asarray(jax.random.categorical(jax.random.key(8), xj)), minlength=4)
        assert stats.chi2_contingency(np.stack([a, b])).pvalue > S.P_MIN


# ---------------------------------------------------------------------------
# gumbel_topk: the first two draws of sampling without replacement
# ---------------------------------------------------------------------------
TOPK_CASES = [c for c in CASES if c[2] == "float32" and c[3] == "large" and (
    c[0] == "numpy" and c[1] in ("MT19937", "PCG64", "Philox", "SFC64", "PortableRNG", "None")
    or c[0] != "numpy" and c[1] in ("Generator", "key", "int", "None+manual_seed"))]


@pytest.mark.parametrize("case", TOPK_CASES, ids=["-".join(c) for c in TOPK_CASES])
def test_topk_law(case):
    be, kind, dtype, _ = case
    rng = FACTORIES[be](kind, 99)(0)
    top = S.to_np(gx.gumbel_topk(_logits(be, LARGE_ROWS, dtype), 2, rng=rng)).astype(np.int64)
    assert top.shape == (LARGE_ROWS, 2) and (top[:, 0] != top[:, 1]).all()
    p = S.PROBS
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j)
                       for j in range(4)])
    for col, probs in ((0, p), (1, second)):
        counts = np.bincount(top[:, col], minlength=4)
        pv = S.chi2_p(counts, probs)
        assert pv > S.P_MIN, f"draw {col + 1}: frequencies {counts / counts.sum()} vs {probs}"
