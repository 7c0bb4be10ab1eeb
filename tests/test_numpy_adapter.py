"""The NumPy adapter's own fast paths: raw-bit float32 uniforms and the
one-hot write, checked against independent references."""

import copy

import numpy as np
import pytest
from gumbelxp.conformance.support import ENV_VAR, selected_backends
from scipy import stats

if "numpy" not in selected_backends():
    pytest.skip(f"numpy is excluded by ${ENV_VAR}", allow_module_level=True)

from gumbelxp.backends import get_backend  # noqa: E402
from gumbelxp.backends._numpy import _RAW_MIN, open_uniform, uniform32_from_words  # noqa: E402

NP = get_backend("numpy")


def test_words_to_uniform_is_the_cell_midpoint_for_any_word():
    words = np.array([0, 1, 511, 512, 2**31, 2**32 - 513, 2**32 - 1], dtype=np.uint32)
    words = np.concatenate([words, np.random.default_rng(0).integers(0, 2**32, 10**5,
                                                                      dtype=np.uint32)])
    expected = ((words.astype(np.float64) // 512) + 0.5) * 2.0**-23  # exact in float64
    u = uniform32_from_words(words.copy())
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u.astype(np.float64), expected)
    assert 0.0 < u.min() and u.max() < 1.0
    assert u[0] == np.float32(2.0**-24) and u[6] == np.float32(1 - 2.0**-24)


@pytest.mark.parametrize("n", [_RAW_MIN, _RAW_MIN + 1, 200_001])
def test_raw_path_uses_the_generators_bits_and_is_uniform(n):
    gen = np.random.default_rng(5)
    twin = copy.deepcopy(gen)
    u = open_uniform(gen, (n,), np.float32)
    assert u.shape == (n,) and u.dtype == np.float32
    words = twin.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    np.testing.assert_array_equal(u, uniform32_from_words(words.copy()))
    # the generator advanced by exactly the words used
    assert gen.bit_generator.state == twin.bit_generator.state
    assert 0.0 < u.min() and u.max() < 1.0
    if n > 100_000:
        assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_float64_small_draws_and_subclasses_use_random():
    class Half(np.random.Generator):  # a subclass overriding random() is honoured
        def random(self, size=None, dtype=np.float64, out=None):
            return np.full(size, 0.5, dtype=dtype)

    sub = Half(np.random.PCG64(0))
    assert (open_uniform(sub, (_RAW_MIN * 2,), np.float32) == 0.5).all()
    gen, twin = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(open_uniform(gen, (7,), np.float32),
                                  np.maximum(twin.random(7, dtype=np.float32), 2.0**-25))
    u = open_uniform(gen, (10_000,), np.float64)
    assert u.dtype == np.float64 and 0.0 < u.min() and u.max() < 1.0
