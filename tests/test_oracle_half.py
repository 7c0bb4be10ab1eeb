"""Half precision (float16, bfloat16) on NumPy, PyTorch, JAX and TensorFlow:
computed in float32 inside, returned in the input's dtype, never NaN for
finite input, whatever the logits' magnitude (up to the dtype's largest
finite value) and ``tau`` (1e-8 to 1e8), with ``-inf`` masks; the values
equal the float64 formula given the same noise; the noise has the Gumbel
law (SciPy's KS test)."""

from __future__ import annotations

import _oracle_support as S
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gumbelxp as gx

HALF = [(be, dt) for be in S.backends("numpy", "torch", "jax", "tensorflow")
        for dt in ("float16", "bfloat16") if not (be == "numpy" and dt == "bfloat16")]
LIMIT = {"float16": 65504.0, "bfloat16": 3.0e38}
HYP = settings(deadline=None, derandomize=True, database=None,
               phases=(Phase.explicit, Phase.generate, Phase.shrink),
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
EXAMPLES = {"numpy": 40, "torch": 40, "tensorflow": 20, "jax": 8}


def _round(a, dtype):
    """``a`` rounded to ``dtype`` (bfloat16 via torch or ml_dtypes), as float64."""
    if dtype == "float16":
        return np.asarray(a, np.float64).astype(np.float16).astype(np.float64)
    try:
        import ml_dtypes

        return np.asarray(a, np.float64).astype(np.float32).astype(
            ml_dtypes.bfloat16).astype(np.float64)
    except ImportError:
        torch = pytest.importorskip("torch")
        return torch.tensor(np.asarray(a, np.float32)).bfloat16().double().numpy()


@st.composite
def half_case(draw, dtype, be):
    if be == "jax":  # JAX compiles every new shape (seconds each)
        shape = (4, 5)
    else:
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=6))
    big = LIMIT[dtype]
    scale = draw(st.sampled_from([1.0, 100.0, big / 4, big]))
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    x = np.clip(r.normal(size=shape) * scale, -big, big)
    if draw(st.booleans()):
        m = r.random(shape) < 0.3
        m[..., 0] = False
        x = np.where(m, -np.inf, x)
    x = _round(x, dtype)
    assume(np.isfinite(x[..., 0]).all())
    tau = draw(st.sampled_from([1e-8, 1e-3, 0.1, 1.0, 10.0, 1e8]))
    hard = draw(st.booleans())
    return x, tau, hard, seed


def _run(be, dtype, x, tau, hard, seed):
    r = np.random.default_rng(seed + 1)
    xb = S.asarray(be, x, dtype)
    noise = S.asarray(be, r.gumbel(size=x.shape), dtype)
    g = S.to_np(noise).astype(np.float64)
    s = x + g
    for y, given_noise in ((gx.gumbel_softmax(xb, tau, hard=hard, noise=noise), True),
                           (gx.gumbel_softmax(xb, tau, hard=hard, rng=seed % 1000), False)):
        assert S.dtype_name(y) == dtype, f"returned {S.dtype_name(y)} for {dtype}"
        got = S.to_np(y).astype(np.float64)
        assert not np.isnan(got).any(), f"NaN: tau={tau} hard={hard} given noise={given_noise}"
        assert (got[np.isneginf(x)] == 0).all()
        if hard:
            assert set(np.unique(got)) <= {0.0, 1.0} and (got.sum(-1) == 1).all()
        else:
            np.testing.assert_allclose(got.sum(-1), 1.0, atol=2e-2)
        if not given_noise:
            continue
        # the reference from the noise as the backend holds it, in float64
        if hard:
            assume(S.top_gap(s) > 1e-5)
            np.testing.assert_array_equal(got, S.one_hot(np.argmax(s, -1), x.shape[-1]))
        else:
            want = S.ref_gumbel_softmax(x, g, tau)
            # x + g is rounded to float32 inside: |x| * 2**-24 / tau in the scores
            err = float(np.max(np.abs(np.where(np.isfinite(x), x, 0)))) * 2**-23 / tau
            assume(err < 0.05)
            np.testing.assert_allclose(got, want, atol=1e-2 + 2 * err, rtol=0)
    idx = S.to_np(gx.gumbel_max(xb, noise=noise))
    assume(S.top_gap(s) > 1e-5)
    np.testing.assert_array_equal(idx, np.argmax(s, -1))


@pytest.mark.slow
@pytest.mark.parametrize("be,dtype", HALF)
def test_half_precision_never_nan_and_equals_the_reference(be, dtype):
    @settings(HYP, max_examples=EXAMPLES[be])
    @given(c=half_case(dtype, be))
    def check(c):
        _run(be, dtype, *c)

    check()


@pytest.mark.parametrize("be,dtype", HALF)
def test_half_precision_extremes(be, dtype):
    """The largest finite logits, both signs, with masks, at extreme tau."""
    big = LIMIT[dtype]
    x = _round(np.array([[big, -big, 0.0, -np.inf], [-big, -big, -big, -big],
                         [big, big, big, -np.inf], [0.0, 1e-3, -1e-3, 2e-3]]), dtype)
    for tau in (1e-30, 1e-8, 1.0, 1e8, 1e30):
        for hard in (False, True):
            for rng in (0, 12345):
                y = S.to_np(gx.gumbel_softmax(S.asarray(be, x, dtype), tau, hard=hard, rng=rng))
                assert not np.isnan(y).any(), f"tau={tau} hard={hard}: NaN"
                np.testing.assert_allclose(y.sum(-1), 1.0, atol=2e-2)
                assert y[0, 3] == 0 and y[2, 3] == 0
                if tau < 1e-2 or hard:
                    assert y[0, 0] == 1.0, f"tau={tau} hard={hard}: the largest logit lost"
        idx = S.to_np(gx.gumbel_max(S.asarray(be, x, dtype), rng=1))
        assert idx[0] == 0 and idx[2] != 3


@pytest.mark.parametrize("be,dtype", HALF)
def test_half_precision_noise_law(be, dtype):
    g = gx.gumbel((30_000,), xp=be, dtype=dtype, rng=gx.PortableRNG(4))
    assert S.dtype_name(g) == dtype
    g = S.to_np(g).astype(np.float64)
    assert np.isfinite(g).all()
    # rounding to the dtype moves the CDF by at most density * half a spacing
    # (< 1e-3 for bfloat16), far below KS's resolution at 30,000 samples (~1e-2)
    p = S.ks_gumbel_p(g)
    assert p > S.P_MIN, f"KS p={p:.2e}"
