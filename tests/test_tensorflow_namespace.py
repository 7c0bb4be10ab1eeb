"""The TensorFlow array-API namespace (backends/_tf_namespace.py), op by op
against NumPy: NaN, -inf, half precision, empty arrays, promotion, and
symbolic (unknown) dimensions inside tf.function."""

import os

import numpy as np
import pytest

_ENV = [n.strip() for n in os.environ.get("GUMBELXP_BACKENDS", "").split(",") if n.strip()]
if _ENV and "tensorflow" not in _ENV:
    pytest.skip("tensorflow is not in GUMBELXP_BACKENDS", allow_module_level=True)
tf = pytest.importorskip("tensorflow")

from gumbelxp.backends import get_backend  # noqa: E402
from gumbelxp.conformance.support import to_numpy  # noqa: E402

import gumbelxp as gx  # noqa: E402

BE = get_backend("tensorflow")
xp = BE.namespace
NAN, INF = float("nan"), float("inf")
FLOATS = ["float16", "bfloat16", "float32", "float64"]


def npy(x):
    return to_numpy(x)


def T(a, dtype="float32"):
    return xp.asarray(np.asarray(a, dtype=np.float64), dtype=getattr(xp, dtype))


def ref(a, dtype):
    """``a`` rounded through ``dtype`` (bfloat16 via TF), as float64."""
    with np.errstate(over="ignore"):
        return npy(T(a, dtype)).astype(np.float64)


# -- dtypes and creation -------------------------------------------------------------
def test_is_plain_tf_module_not_numpy():
    x = xp.exp(xp.asarray([0.0, 1.0]))
    assert type(x).__module__.startswith("tensorflow")
    assert not hasattr(tf.Tensor, "__rshift__")  # we never patch tf.Tensor


def test_asarray_default_dtypes():
    assert xp.asarray(1.5).dtype == tf.float32  # TensorFlow's default float
    assert xp.asarray(3).dtype == tf.int64
    assert xp.asarray(True).dtype == tf.bool
    assert xp.asarray([[1, 2], [3, 2**40]]).dtype == tf.int64
    assert npy(xp.asarray([1, 2**40]))[1] == 2**40
    assert xp.asarray([1.0, 2]).dtype == tf.float32
    assert xp.asarray(np.zeros(2)).dtype == tf.float64  # NumPy dtype is kept
    assert xp.asarray(np.zeros(2, np.int32)).dtype == tf.int32
    assert int(npy(xp.asarray(0xD2511F53, dtype=xp.uint32))) == 0xD2511F53
    v = tf.Variable([1.0, 2.0])
    assert isinstance(xp.asarray(v), tf.Tensor)
    assert xp.asarray(v, dtype=xp.float64).dtype == tf.float64
    assert gx.gumbel((1,), xp="tensorflow", rng=0).dtype == tf.float32  # the default float


def test_astype_and_device():
    x = xp.asarray([1.7, -1.7, 0.5])
    assert npy(xp.astype(x, xp.int32)).tolist() == [1, -1, 0]  # C truncation, as NumPy
    assert xp.astype(x, xp.bfloat16).dtype == tf.bfloat16
    d = BE.device(x)
    assert "CPU" in d
    y = xp.asarray([1.0], device=d)
    assert BE.device(y) == d and xp.device(y) == d


@pytest.mark.parametrize(
    "dtype,kind,expected",
    [("float16", "real floating", True), ("bfloat16", "real floating", True),
     ("float64", "integral", False), ("int64", "signed integer", True),
     ("uint32", "signed integer", False), ("uint32", "integral", True),
     ("bool", "numeric", False), ("bool", "bool", True), ("int8", ("bool", "integral"), True),
     ("complex64", "complex floating", True), ("float32", "complex floating", False)],
)
def test_isdtype(dtype, kind, expected):
    assert xp.isdtype(getattr(xp, dtype), kind) is expected


def test_isdtype_unknown_kind():
    with pytest.raises(ValueError):
        xp.isdtype(xp.float32, "floating")


@pytest.mark.parametrize("dtype,bits,eps", [("float16", 16, 2.0**-10), ("bfloat16", 16, 2.0**-7),
                                            ("float32", 32, 2.0**-23), ("float64", 64, 2.0**-52)])
def test_finfo(dtype, bits, eps):
    fi = xp.finfo(getattr(xp, dtype))
    assert (fi.bits, fi.eps) == (bits, eps)
    assert fi.max == -fi.min > 6e4
    assert fi.dtype == getattr(xp, dtype)
    assert xp.finfo(xp.asarray(1.0, dtype=getattr(xp, dtype))).bits == bits
    with pytest.raises(TypeError):
        xp.finfo(xp.int32)


def test_iinfo():
    assert (xp.iinfo(xp.int64).bits, xp.iinfo(xp.int64).max) == (64, 2**63 - 1)
    assert (xp.iinfo(xp.uint32).bits, xp.iinfo(xp.uint32).max) == (32, 2**32 - 1)
    assert xp.iinfo(xp.int8).min == -128


@pytest.mark.parametrize(
    "a,b,expected",
    [("float16", "bfloat16", "float32"), ("float16", "float64", "float64"),
     ("int32", "float16", "float16"), ("uint8", "int8", "int16"), ("uint32", "int32", "int64"),
     ("int32", "int64", "int64"), ("uint16", "uint32", "uint32"), ("float32", "complex64", "complex64"),
     ("float64", "complex64", "complex128")],
)
def test_promotion(a, b, expected):
    assert xp.result_type(getattr(xp, a), getattr(xp, b)) == getattr(xp, expected)
    x = xp.astype(xp.asarray([1, 2]), getattr(xp, a))
    y = xp.astype(xp.asarray([3, 4]), getattr(xp, b))
    assert xp.add(x, y).dtype == getattr(xp, expected)  # tf.Tensor's + would raise
    assert npy(xp.multiply(x, y)).real.tolist() == [3, 8]


def test_promotion_errors():
    with pytest.raises(TypeError):
        xp.result_type(xp.bool, xp.int8)
    with pytest.raises(TypeError):
        xp.result_type(xp.uint64, xp.int64)


def test_python_scalars_take_the_array_dtype():
    for dt in FLOATS:
        x = xp.astype(xp.asarray([1.0, 2.0]), getattr(xp, dt))
        assert xp.add(x, 0.5).dtype == x.dtype and xp.where(x > 1, x, 0.0).dtype == x.dtype
        assert xp.maximum(x, 1).dtype == x.dtype
    i = xp.asarray([1, 2], dtype=xp.int32)
    assert xp.add(i, 2**40).dtype == tf.int64  # too large for int32: promoted, not overflowed
    assert npy(xp.add(i, 2**40)).tolist() == [2**40 + 1, 2**40 + 2]
    assert xp.multiply(i, 0.5).dtype.is_floating
    assert xp.add(xp.asarray([1, 2], dtype=xp.uint32), 0xD2511F53).dtype == tf.uint32


# -- element-wise ---------------------------------------------------------------------
SPECIAL = [-INF, -3.5, -1e-3, 0.0, 0.5, 2.0, 30.0, INF, NAN]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["exp", "log", "log1p", "expm1", "sqrt", "abs", "negative",
                                  "isnan", "isinf", "isfinite", "floor", "ceil", "sign"])
def test_unary_vs_numpy(name, dtype):
    a = ref(SPECIAL, dtype)
    x = T(SPECIAL, dtype)
    got = getattr(xp, name)(x)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(a)
    if want.dtype != bool:
        assert got.dtype == x.dtype
        from gumbelxp.conformance.support import TOLERANCES

        r, _ = TOLERANCES[dtype]
        want = ref(want, dtype)  # overflow to inf where the dtype does
        np.testing.assert_allclose(npy(got).astype(np.float64), want, rtol=2 * r, atol=0)
    else:
        assert npy(got).tolist() == want.tolist()


def test_isnan_on_integers():
    assert npy(xp.isnan(xp.asarray([1, 2]))).tolist() == [False, False]
    assert npy(xp.isfinite(xp.asarray([1, 2]))).tolist() == [True, True]


@pytest.mark.parametrize("dtype", FLOATS)
def test_maximum_minimum_propagate_nan(dtype):
    a = [NAN, 1.0, 2.0, -INF, NAN]
    b = [0.0, NAN, 1.0, 5.0, NAN]
    got = npy(xp.maximum(T(a, dtype), T(b, dtype)))
    np.testing.assert_array_equal(got, np.maximum(a, b))
    got = npy(xp.minimum(T(b, dtype), T(a, dtype)))
    np.testing.assert_array_equal(got, np.minimum(b, a))


def test_where_broadcasts_and_promotes():
    c = xp.asarray([[True], [False]])
    out = xp.where(c, xp.asarray([1.0, 2.0]), 0.0)
    np.testing.assert_array_equal(npy(out), [[1.0, 2.0], [0.0, 0.0]])
    out = xp.where(xp.asarray([True, False]), xp.asarray([1, 2], dtype=xp.int32),
                   xp.asarray([0.5, 0.5], dtype=xp.float64))
    assert out.dtype == tf.float64 and npy(out).tolist() == [1.0, 0.5]


def test_divide_and_operators():
    x = xp.asarray([1, 2, 3])
    assert xp.divide(x, 2).dtype.is_floating
    np.testing.assert_allclose(npy(xp.divide(x, 2)), [0.5, 1.0, 1.5])
    assert npy(xp.floor_divide(xp.asarray([-7, 7]), 2)).tolist() == [-4, 3]
    assert npy(xp.remainder(xp.asarray([-7, 7]), 3)).tolist() == [2, 1]
    np.testing.assert_allclose(npy(xp.pow(xp.asarray([2.0, 3.0]), 2)), [4.0, 9.0])
    np.testing.assert_allclose(npy(xp.clip(xp.asarray([-1.0, 0.5, 3.0]), 0.0, 1.0)), [0, 0.5, 1])


def test_bitwise_matches_numpy_int64():
    a = np.array([-(2**62) - 12345, -1, 0, 7, 2**62 + 99], dtype=np.int64)
    x = xp.asarray(a)
    for k in (1, 9, 31, 32):
        assert npy(xp.bitwise_right_shift(x, k)).tolist() == (a >> k).tolist()
        assert npy(xp.bitwise_left_shift(x, k)).tolist() == (a << k).tolist()
    assert npy(xp.bitwise_and(x, 0xFFFFFFFF)).tolist() == (a & 0xFFFFFFFF).tolist()
    assert npy(xp.bitwise_xor(x, 0x9E3779B9)).tolist() == (a ^ 0x9E3779B9).tolist()
    assert npy(xp.bitwise_or(x, 8)).tolist() == (a | 8).tolist()
    # the wrapping int64 product Philox relies on
    b = np.array([0xFFFFFFFF, 0x243F6A88], dtype=np.int64)
    assert npy(xp.multiply(xp.asarray(b), 0xD2511F53)).tolist() == (b * 0xD2511F53).tolist()
    u = np.array([0xFFFFFFFF, 5], dtype=np.uint32)
    assert npy(xp.bitwise_right_shift(xp.asarray(u), 31)).tolist() == (u >> 31).tolist()


# -- reductions -----------------------------------------------------------------------
MAT = [[1.0, NAN, 3.0], [-INF, -INF, -INF], [2.0, INF, -1.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_min_propagate_nan(name, dtype, axis, keepdims):
    got = getattr(xp, name)(T(MAT, dtype), axis=axis, keepdims=keepdims)
    want = getattr(np, name)(ref(MAT, dtype), axis=axis, keepdims=keepdims)
    assert got.dtype == getattr(xp, dtype)
    assert tuple(got.shape) == want.shape
    np.testing.assert_array_equal(npy(got).astype(np.float64), want)


def test_max_integers_and_bool():
    assert int(npy(xp.max(xp.asarray([3, -2, 7])))) == 7
    assert bool(npy(xp.max(xp.asarray([False, True]))))
    assert not bool(npy(xp.min(xp.asarray([False, True]))))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_sum_any_all(dtype, axis):
    a = [[1.0, 2.0, -INF], [0.5, 0.25, 0.0]]
    got = xp.sum(T(a, dtype), axis=axis, keepdims=True)
    want = np.sum(ref(a, dtype), axis=axis, keepdims=True)
    assert got.dtype == getattr(xp, dtype) and tuple(got.shape) == want.shape
    np.testing.assert_array_equal(npy(got).astype(np.float64), want)
    b = [[True, False, False], [True, True, True]]
    for name in ("any", "all"):
        got = getattr(xp, name)(xp.asarray(b), axis=axis, keepdims=True)
        assert npy(got).tolist() == getattr(np, name)(b, axis=axis, keepdims=True).tolist()
    # non-boolean input: nonzero is True, NaN is nonzero
    got = xp.any(T([[0.0, NAN], [0.0, 0.0]], dtype), axis=1)
    assert npy(got).tolist() == [True, False]


def test_sum_integer_promotes_to_int64():
    x = xp.asarray([2**31 - 1, 2**31 - 1], dtype=xp.int32)
    assert int(npy(xp.sum(x))) == 2 * (2**31 - 1)
    assert int(npy(xp.sum(xp.asarray([True, True, False])))) == 2


def test_empty_reductions():
    e = xp.zeros((0, 3))
    np.testing.assert_array_equal(npy(xp.sum(e, axis=0)), np.zeros(3))
    assert tuple(xp.sum(e, axis=1).shape) == (0,)
    assert float(npy(xp.sum(e))) == 0.0
    assert not bool(npy(xp.any(e)))
    assert bool(npy(xp.all(e)))
    assert tuple(xp.max(e, axis=1, keepdims=True).shape) == (0, 1)
    # documented departure: the identity instead of an error
    np.testing.assert_array_equal(npy(xp.max(e, axis=0)), [-INF] * 3)
    assert tuple(xp.exp(e).shape) == (0, 3)
    assert tuple(xp.reshape(e, (-1,)).shape) == (0,)
    assert tuple(xp.argsort(xp.zeros((0,))).shape) == (0,)
    assert tuple(xp.argmax(xp.zeros((0, 3)), axis=1).shape) == (0,)


@pytest.mark.parametrize("dtype", FLOATS)
def test_mean(dtype):
    a = [[1.0, 2.0], [3.0, 5.0]]
    np.testing.assert_allclose(npy(xp.mean(T(a, dtype), axis=0)).astype(float), [2.0, 3.5])


# -- arg-reductions and sorting -------------------------------------------------------
ARG = [[1.0, 3.0, 3.0, 0.0], [NAN, 1.0, NAN, 2.0], [-INF, -INF, -INF, -INF],
       [-INF, 5.0, INF, INF], [2.0, 2.0, 2.0, 2.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_vs_numpy(name, dtype):
    a = ref(ARG, dtype)
    for axis in (0, 1, -1):
        got = getattr(xp, name)(T(ARG, dtype), axis=axis)
        assert got.dtype == tf.int64
        assert npy(got).tolist() == getattr(np, name)(a, axis=axis).tolist(), axis
    got = getattr(xp, name)(T(ARG, dtype), axis=1, keepdims=True)
    assert npy(got).tolist() == getattr(np, name)(a, axis=1, keepdims=True).tolist()
    got = getattr(xp, name)(T(ARG, dtype))
    assert int(npy(got)) == int(getattr(np, name)(a))


SORT = [3.0, -INF, 1.0, NAN, 3.0, 1.0, INF, -INF, NAN, 0.0, 3.0]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_stable_nan_last(dtype, descending):
    a = ref(SORT, dtype)
    got = npy(xp.argsort(T(SORT, dtype), descending=descending, stable=True))
    want = np.argsort(-a if descending else a, kind="stable")
    assert got.tolist() == want.tolist()
    srt = npy(xp.sort(T(SORT, dtype), descending=descending)).astype(np.float64)
    np.testing.assert_array_equal(srt, a[want])


@pytest.mark.parametrize("descending", [False, True])
def test_argsort_axis0_and_integers(descending):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(7, 5))
    got = npy(xp.argsort(xp.asarray(a), axis=0, descending=descending))
    want = np.argsort(-a if descending else a, axis=0, kind="stable")
    assert got.tolist() == want.tolist()
    f = rng.normal(size=(4, 6, 3))
    f[1, 2, 0] = NAN
    got = npy(xp.argsort(xp.asarray(f), axis=1, descending=descending))
    want = np.argsort(-f if descending else f, axis=1, kind="stable")
    assert got.tolist() == want.tolist()


def test_argsort_stable_under_xla():
    x = xp.asarray([1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0, 2.0, NAN, 2.0])
    f = tf.function(lambda v: xp.argsort(v, descending=True), jit_compile=True)
    want = np.argsort(-npy(x), kind="stable")
    assert npy(f(x)).tolist() == want.tolist()


def test_take_along_axis_and_take():
    a = np.arange(12.0).reshape(3, 4)
    idx = np.array([[3, 0], [1, 1], [0, 2]])
    np.testing.assert_array_equal(
        npy(xp.take_along_axis(xp.asarray(a), xp.asarray(idx), axis=1)),
        np.take_along_axis(a, idx, axis=1))
    idx0 = np.array([[2, 0, 1, 0]])
    np.testing.assert_array_equal(
        npy(xp.take_along_axis(xp.asarray(a), xp.asarray(idx0), axis=0)),
        np.take_along_axis(a, idx0, axis=0))
    np.testing.assert_array_equal(npy(xp.take(xp.asarray(a), xp.asarray([2, 0]), axis=1)),
                                  a[:, [2, 0]])


# -- shapes and creation ---------------------------------------------------------------
def test_shape_functions():
    a = np.arange(6.0).reshape(2, 3)
    x = xp.asarray(a)
    np.testing.assert_array_equal(npy(xp.reshape(x, (3, -1))), a.reshape(3, -1))
    np.testing.assert_array_equal(npy(xp.expand_dims(x, axis=1)), a[:, None])
    np.testing.assert_array_equal(npy(xp.squeeze(xp.expand_dims(x, axis=0), axis=0)), a)
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)
    np.testing.assert_array_equal(npy(xp.broadcast_to(x[:1], (4, 3))),
                                  np.broadcast_to(a[:1], (4, 3)))
    np.testing.assert_array_equal(npy(xp.stack([x, x + 1], axis=-1)), np.stack([a, a + 1], -1))
    np.testing.assert_array_equal(npy(xp.concat([x, x], axis=0)), np.concatenate([a, a]))
    np.testing.assert_array_equal(npy(xp.permute_dims(x, (1, 0))), a.T)
    np.testing.assert_array_equal(npy(xp.flip(x, axis=1)), a[:, ::-1])
    np.testing.assert_array_equal(npy(xp.zeros_like(x)), np.zeros_like(a))
    assert xp.zeros_like(x, dtype=xp.int32).dtype == tf.int32
    np.testing.assert_array_equal(npy(xp.full((2,), 7, dtype=xp.int32)), [7, 7])
    np.testing.assert_array_equal(npy(xp.eye(2, 3, k=1)), np.eye(2, 3, k=1))
    np.testing.assert_allclose(npy(xp.linspace(0, 1, 5)), np.linspace(0, 1, 5))


def test_arange():
    assert xp.arange(5).dtype == tf.int64
    assert npy(xp.arange(5)).tolist() == [0, 1, 2, 3, 4]
    assert npy(xp.arange(2, 9, 3, dtype=xp.int32)).tolist() == [2, 5, 8]
    assert xp.arange(3, dtype=xp.uint32).dtype == tf.uint32
    assert xp.arange(0.0, 1.0, 0.25).dtype == tf.float32
    np.testing.assert_allclose(npy(xp.arange(0.0, 1.0, 0.25)), [0, 0.25, 0.5, 0.75])


def test_symbolic_dimensions_in_tf_function():
    """Shapes with unknown entries (scalar tensors) through the shape functions."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        n, k = BE.shape(x)
        assert isinstance(k, int) and not isinstance(n, int)
        ar = xp.arange(n, dtype=xp.int64)
        y = xp.reshape(x, (n * k,))
        z = xp.broadcast_to(xp.reshape(xp.max(x, axis=1), (n, 1)), (n, k))
        return ar, y, z, xp.zeros((n, 2))

    a = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    ar, y, z, zz = f(tf.constant(a))
    assert npy(ar).tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(npy(y), a.ravel())
    np.testing.assert_array_equal(npy(z), np.broadcast_to(a.max(1, keepdims=True), (4, 3)))
    assert tuple(zz.shape) == (4, 2)


def test_namespace_info():
    info = xp.__array_namespace_info__()
    assert info.default_dtypes()["real floating"] == tf.float32
    assert info.default_dtypes()["indexing"] == tf.int64
    assert any("CPU" in d for d in info.devices())
    assert "bfloat16" in info.dtypes(kind="real floating")
