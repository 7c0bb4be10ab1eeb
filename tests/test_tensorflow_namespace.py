"""The TensorFlow array-API namespace (backends/_tf_namespace.py), op by op
against NumPy: NaN, -inf, half precision, empty arrays, promotion, and
symbolic (unknown) dimensions inside tf.function. The namespace holds only
what gumbelxp uses; ``test_the_namespace_is_what_is_tested`` keeps this file
and it in step."""

import os

import numpy as np
import pytest

_ENV = [n.strip() for n in os.environ.get("GUMBELXP_BACKENDS", "").split(",") if n.strip()]
if _ENV and "tensorflow" not in _ENV:
    pytest.skip("tensorflow is not in GUMBELXP_BACKENDS", allow_module_level=True)
tf = pytest.importorskip("tensorflow")

from gumbelxp.backends import get_backend  # noqa: E402
from gumbelxp.conformance.support import TOLERANCES, to_numpy  # noqa: E402

BE = get_backend("tensorflow")
xp = BE.namespace
NAN, INF = float("nan"), float("inf")
FLOATS = ["float16", "bfloat16", "float32", "float64"]
DTYPES = ["bool", "int32", "int64", *FLOATS]
FUNCTIONS = [
    "isdtype", "finfo", "iinfo", "result_type",
    "asarray", "arange", "zeros_like", "ones_like", "full_like", "astype",
    "exp", "log", "log1p", "abs", "isnan", "isinf", "isfinite",
    "bitwise_right_shift", "maximum", "minimum", "clip", "where",
    "max", "sum", "mean", "any", "all", "argmax", "argsort",
    "reshape", "expand_dims", "squeeze", "stack", "moveaxis",
]


def npy(x):
    return to_numpy(x)


def T(a, dtype="float32"):
    return xp.asarray(np.asarray(a, dtype=np.float64), dtype=getattr(xp, dtype))


def ref(a, dtype):
    """``a`` rounded through ``dtype`` (bfloat16 via TF), as float64."""
    with np.errstate(over="ignore"):
        return npy(T(a, dtype)).astype(np.float64)


def test_the_namespace_is_what_is_tested():
    public = {n for n in vars(xp) if not n.startswith("_")}
    imported = {"annotations", "builtins", "contextlib", "math", "np", "tf", "Any", "Sequence"}
    assert public - imported == set(FUNCTIONS) | set(DTYPES)


def test_plain_tf_tensors_nothing_patched():
    x = xp.exp(xp.asarray([0.0, 1.0]))
    assert type(x).__module__.startswith("tensorflow")
    assert not hasattr(tf.Tensor, "__rshift__")  # we never patch tf.Tensor


@pytest.mark.parametrize("name", DTYPES)
def test_dtypes(name):
    assert getattr(xp, name) == tf.as_dtype(name)


# -- dtype functions --------------------------------------------------------------------
ALL_TF = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "bfloat16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("name", ALL_TF)
@pytest.mark.parametrize("kind", ["real floating", "integral"])
def test_isdtype_vs_numpy(name, kind):
    want = kind == "real floating" if name == "bfloat16" else np.isdtype(np.dtype(name), kind)
    assert xp.isdtype(tf.as_dtype(name), kind) is bool(want)


def test_isdtype_other_kind_is_an_error():
    with pytest.raises(ValueError, match="not supported"):
        xp.isdtype(xp.float32, "numeric")


@pytest.mark.parametrize("dtype", FLOATS)
def test_finfo_vs_numpy(dtype):
    import ml_dtypes

    want = ml_dtypes.finfo(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.finfo(dtype)
    fi = xp.finfo(getattr(xp, dtype))
    assert fi.dtype == getattr(xp, dtype)
    assert (fi.bits, fi.eps, fi.max, fi.min, fi.smallest_normal) == (
        want.bits, float(want.eps), float(want.max), float(want.min), float(want.smallest_normal))
    assert all(type(v) is float for v in (fi.eps, fi.max, fi.min, fi.smallest_normal))
    with pytest.raises(TypeError):
        xp.finfo(xp.int32)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint32", "uint64"])
def test_iinfo_vs_numpy(dtype):
    ii = xp.iinfo(tf.as_dtype(dtype))
    want = np.iinfo(dtype)
    assert (ii.bits, ii.max, ii.min) == (want.bits, int(want.max), int(want.min))
    assert ii.dtype == tf.as_dtype(dtype)
    with pytest.raises(TypeError):
        xp.iinfo(xp.float32)


@pytest.mark.parametrize(
    "a,b", [("float16", "float32"), ("float32", "float64"), ("float64", "float16"),
            ("float32", "float32"), ("int32", "int64"), ("int8", "int32"), ("uint8", "uint32")])
def test_result_type_vs_numpy(a, b):
    assert xp.result_type(tf.as_dtype(a), tf.as_dtype(b)) == tf.as_dtype(np.result_type(a, b).name)
    assert xp.result_type(tf.as_dtype(a)) == tf.as_dtype(a)


def test_result_type_half_precision_and_mixtures():
    assert xp.result_type(xp.float16, xp.bfloat16) == xp.float32
    assert xp.result_type(xp.bfloat16, xp.float64) == xp.float64
    for a, b in [("int32", "float32"), ("bool", "int8"), ("uint32", "int64")]:
        with pytest.raises(TypeError):
            xp.result_type(tf.as_dtype(a), tf.as_dtype(b))
    with pytest.raises(ValueError):
        xp.result_type()


# -- creation ---------------------------------------------------------------------------
def test_asarray():
    assert xp.asarray(1.5).dtype == tf.float32  # TensorFlow's default float
    assert xp.asarray(3).dtype == tf.int64
    assert xp.asarray(True).dtype == tf.bool
    assert npy(xp.asarray([1, 2**40])).tolist() == [1, 2**40]
    assert xp.asarray([1.0, 2]).dtype == tf.float32
    for a in (np.zeros(2), np.zeros(2, np.int32), np.zeros(2, np.float16)):
        x = xp.asarray(a)  # NumPy dtypes are kept
        assert x.dtype == tf.as_dtype(a.dtype) and npy(x).tolist() == a.tolist()
    assert int(npy(xp.asarray(0xD2511F53, dtype=xp.int64))) == 0xD2511F53
    assert xp.asarray(np.arange(3), dtype=xp.float32).dtype == tf.float32
    v = tf.Variable([1.0, 2.0])
    assert isinstance(xp.asarray(v), tf.Tensor)
    assert xp.asarray(v, dtype=xp.float64).dtype == tf.float64
    x = xp.asarray([1.0])
    assert xp.asarray(x) is x
    d = BE.device(x)
    assert "CPU" in d and BE.device(xp.asarray([2.0], device=d)) == d


@pytest.mark.parametrize("dtype", [None, "int32", "int64", "uint8", "float32"])
def test_arange_vs_numpy(dtype):
    got = xp.arange(5, dtype=None if dtype is None else tf.as_dtype(dtype))
    assert got.dtype == tf.as_dtype(dtype or "int64")
    np.testing.assert_array_equal(npy(got), np.arange(5, dtype=dtype or np.int64))
    assert tuple(xp.arange(0).shape) == (0,)
    assert BE.device(xp.arange(2, device=BE.device(got))) == BE.device(got)


@pytest.mark.parametrize("dtype", FLOATS)
def test_zeros_ones_full_like(dtype):
    x = T([[1.0, 2.0, 3.0]], dtype)
    for got, want in [(xp.zeros_like(x), np.zeros((1, 3))), (xp.ones_like(x), np.ones((1, 3))),
                      (xp.full_like(x, -INF), np.full((1, 3), -INF)),
                      (xp.full_like(x, NAN), np.full((1, 3), NAN))]:
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(npy(got).astype(np.float64), want)
    i = xp.asarray([4, 5])
    assert xp.full_like(i, 2).dtype == tf.int64 and npy(xp.full_like(i, 2)).tolist() == [2, 2]


def test_astype_vs_numpy():
    a = np.array([1.7, -1.7, 0.5, 0.0])
    x = xp.asarray(a)
    assert npy(xp.astype(x, xp.int32)).tolist() == a.astype(np.int32).tolist()  # truncation
    assert npy(xp.astype(x, xp.bool)).tolist() == a.astype(bool).tolist()
    assert xp.astype(x, xp.bfloat16).dtype == tf.bfloat16
    assert npy(xp.astype(xp.asarray([True, False]), xp.float32)).tolist() == [1.0, 0.0]
    assert xp.astype(x, xp.float64) is x


# -- element-wise ---------------------------------------------------------------------
SPECIAL = [-INF, -3.5, -1e-3, 0.0, 0.5, 2.0, 30.0, INF, NAN]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["exp", "log", "log1p", "abs", "isnan", "isinf", "isfinite"])
def test_unary_vs_numpy(name, dtype):
    x = T(SPECIAL, dtype)
    got = getattr(xp, name)(x)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(ref(SPECIAL, dtype))
    if want.dtype == bool:
        assert got.dtype == tf.bool and npy(got).tolist() == want.tolist()
        return
    assert got.dtype == x.dtype
    r, _ = TOLERANCES[dtype]
    np.testing.assert_allclose(npy(got).astype(np.float64), ref(want, dtype), rtol=2 * r, atol=0)


def test_bitwise_right_shift_vs_numpy():
    a = np.array([-(2**62) - 12345, -1, 0, 7, 2**62 + 99], dtype=np.int64)
    for k in (1, 9, 31, 32):
        got = xp.bitwise_right_shift(xp.asarray(a), k)
        assert got.dtype == tf.int64 and npy(got).tolist() == (a >> k).tolist()
    shifts = np.array([0, 1, 2, 3, 4], dtype=np.int64)
    got = xp.bitwise_right_shift(xp.asarray(a), xp.asarray(shifts))
    assert npy(got).tolist() == (a >> shifts).tolist()
    u = np.array([0xFFFFFFFF, 5], dtype=np.uint32)
    assert npy(xp.bitwise_right_shift(xp.asarray(u), 31)).tolist() == (u >> 31).tolist()


@pytest.mark.parametrize("dtype", FLOATS)
def test_maximum_minimum_vs_numpy(dtype):
    a = [NAN, 1.0, 2.0, -INF, NAN, INF]
    b = [0.0, NAN, 1.0, 5.0, NAN, -INF]
    for name in ("maximum", "minimum"):
        got = getattr(xp, name)(T(a, dtype), T(b, dtype))
        assert got.dtype == getattr(xp, dtype)
        np.testing.assert_array_equal(npy(got).astype(np.float64),
                                      getattr(np, name)(ref(a, dtype), ref(b, dtype)))
        # a Python scalar takes the tensor's dtype, on either side
        got = getattr(xp, name)(1, T(a, dtype))
        assert got.dtype == getattr(xp, dtype)
        np.testing.assert_array_equal(npy(got).astype(np.float64),
                                      getattr(np, name)(1.0, ref(a, dtype)))
    i = xp.asarray([3, -2], dtype=xp.int32)
    assert npy(xp.maximum(i, 0)).tolist() == [3, 0] and xp.maximum(i, 0).dtype == tf.int32


def test_binary_promotion():
    x16, x64 = T([1.0, 2.0], "float16"), T([1.5, 0.5], "float64")
    assert xp.maximum(x16, x64).dtype == tf.float64
    assert npy(xp.maximum(x16, x64)).tolist() == [1.5, 2.0]
    assert xp.minimum(T([1.0], "bfloat16"), T([2.0], "float16")).dtype == tf.float32
    with pytest.raises(TypeError):
        xp.maximum(xp.asarray([1], dtype=xp.int32), T([1.0]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_clip_vs_numpy(dtype):
    a = [-INF, -1.0, 0.25, 3.0, INF, NAN]
    x = T(a, dtype)
    low = float(xp.finfo(x.dtype).min)
    for lo, hi in [(low, None), (0.0, 1.0), (None, 0.5)]:
        got = xp.clip(x, lo, hi) if hi is not None else xp.clip(x, min=lo)
        assert got.dtype == x.dtype
        want = np.clip(ref(a, dtype), -np.inf if lo is None else lo, np.inf if hi is None else hi)
        np.testing.assert_array_equal(npy(got).astype(np.float64), ref(want, dtype))
    got = xp.clip(x, min=T([0.0] * 6, dtype), max=T([1.0] * 6, dtype))
    np.testing.assert_array_equal(npy(got).astype(np.float64), np.clip(ref(a, dtype), 0, 1))


def test_where_vs_numpy():
    c = np.array([[True], [False]])
    a, b = np.array([1.0, 2.0], np.float32), np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    got = xp.where(xp.asarray(c), xp.asarray(a), xp.asarray(b))
    np.testing.assert_array_equal(npy(got), np.where(c, a, b))
    got = xp.where(xp.asarray(c), xp.asarray(a), 0.0)  # a scalar takes the tensor's dtype
    assert got.dtype == tf.float32
    np.testing.assert_array_equal(npy(got), np.where(c, a, np.float32(0.0)))
    got = xp.where(xp.asarray([True, False]), T([1.0, 2.0], "float16"), T([0.5, 0.5], "float64"))
    assert got.dtype == tf.float64 and npy(got).tolist() == [1.0, 0.5]


# -- reductions -----------------------------------------------------------------------
MAT = [[1.0, NAN, 3.0], [-INF, -INF, -INF], [2.0, INF, -1.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_propagates_nan_vs_numpy(dtype, axis, keepdims):
    got = xp.max(T(MAT, dtype), axis=axis, keepdims=keepdims)
    want = np.max(ref(MAT, dtype), axis=axis, keepdims=keepdims)
    assert got.dtype == getattr(xp, dtype) and tuple(got.shape) == want.shape
    np.testing.assert_array_equal(npy(got).astype(np.float64), want)


def test_max_integers_and_empty():
    assert int(npy(xp.max(xp.asarray([3, -2, 7])))) == 7
    e = xp.asarray(np.zeros((0, 3), np.float32))
    assert tuple(xp.max(e, axis=1, keepdims=True).shape) == (0, 1)
    # documented departure: the identity instead of an error
    np.testing.assert_array_equal(npy(xp.max(e, axis=0)), [-INF] * 3)


SUMS = [[1.0, 2.0, -INF], [0.5, 0.25, 0.0]]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_mean_vs_numpy(dtype, axis, keepdims):
    for name in ("sum", "mean"):
        got = getattr(xp, name)(T(SUMS, dtype), axis=axis, keepdims=keepdims)
        want = getattr(np, name)(ref(SUMS, dtype), axis=axis, keepdims=keepdims)
        assert got.dtype == getattr(xp, dtype) and tuple(got.shape) == want.shape
        r, _ = TOLERANCES[dtype]
        np.testing.assert_allclose(npy(got).astype(np.float64), ref(want, dtype), rtol=r)
    assert npy(xp.sum(xp.asarray([2**40, 3]))).tolist() == 2**40 + 3  # int64 kept


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_any_all_vs_numpy(axis, keepdims):
    b = np.array([[True, False, False], [True, True, True], [False, False, False]])
    for name in ("any", "all"):
        got = getattr(xp, name)(xp.asarray(b), axis=axis, keepdims=keepdims)
        want = getattr(np, name)(b, axis=axis, keepdims=keepdims)
        assert got.dtype == tf.bool and npy(got).tolist() == want.tolist()
    e = xp.asarray(np.zeros((0,), bool))
    assert not bool(npy(xp.any(e))) and bool(npy(xp.all(e)))


# -- arg-reductions and sorting -------------------------------------------------------
ARG = [[1.0, 3.0, 3.0, 0.0], [NAN, 1.0, NAN, 2.0], [-INF, -INF, -INF, -INF],
       [-INF, 5.0, INF, INF], [2.0, 2.0, 2.0, 2.0]]


@pytest.mark.parametrize("dtype", FLOATS)
def test_argmax_vs_numpy(dtype):
    a = ref(ARG, dtype)
    x = T(ARG, dtype)
    for axis in (0, 1, -1):
        for keepdims in (False, True):
            got = xp.argmax(x, axis=axis, keepdims=keepdims)
            assert got.dtype == tf.int64
            assert npy(got).tolist() == np.argmax(a, axis=axis, keepdims=keepdims).tolist()
    assert int(npy(xp.argmax(x))) == int(np.argmax(a))
    assert npy(xp.argmax(x, keepdims=True)).tolist() == np.argmax(a, keepdims=True).tolist()
    i = np.array([0, 1, 0, 1, 1], np.int32)  # integer input, as the checks use it
    assert int(npy(xp.argmax(xp.asarray(i)))) == int(np.argmax(i))
    assert tuple(xp.argmax(xp.asarray(np.zeros((0, 3))), axis=1).shape) == (0,)


SORT = [3.0, -INF, 1.0, NAN, 3.0, 1.0, INF, -INF, NAN, 0.0, 3.0]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_stable_nan_last_vs_numpy(dtype, descending):
    a = ref(SORT, dtype)
    got = xp.argsort(T(SORT, dtype), descending=descending, stable=True)
    assert got.dtype == tf.int64
    assert npy(got).tolist() == np.argsort(-a if descending else a, kind="stable").tolist()


@pytest.mark.parametrize("descending", [False, True])
def test_argsort_axes_and_integers_vs_numpy(descending):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(7, 5))
    for axis in (0, 1, -1):
        got = npy(xp.argsort(xp.asarray(a), axis=axis, descending=descending))
        want = np.argsort(-a if descending else a, axis=axis, kind="stable")
        assert got.tolist() == want.tolist()
    f = rng.normal(size=(4, 6, 3))
    f[1, 2, 0] = NAN
    got = npy(xp.argsort(xp.asarray(f), axis=1, descending=descending))
    assert got.tolist() == np.argsort(-f if descending else f, axis=1, kind="stable").tolist()
    assert tuple(xp.argsort(xp.asarray(np.zeros((0,)))).shape) == (0,)


def test_argsort_stable_under_xla():
    x = xp.asarray(np.array([1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0, 2.0, NAN, 2.0], np.float32))
    f = tf.function(lambda v: xp.argsort(v, descending=True), jit_compile=True)
    want = np.argsort(-npy(x), kind="stable")
    assert npy(f(x)).tolist() == want.tolist()


# -- shapes -------------------------------------------------------------------------------
def test_shape_functions_vs_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = xp.asarray(a)
    np.testing.assert_array_equal(npy(xp.reshape(x, (6, -1))), a.reshape(6, -1))
    np.testing.assert_array_equal(npy(xp.reshape(x, (-1,))), a.reshape(-1))
    for axis in (0, 1, -1):
        np.testing.assert_array_equal(npy(xp.expand_dims(x, axis=axis)),
                                      np.expand_dims(a, axis))
        e = np.expand_dims(a, axis)
        np.testing.assert_array_equal(npy(xp.squeeze(xp.asarray(e), axis=axis)),
                                      np.squeeze(e, axis))
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)
    for axis in (0, -1):
        np.testing.assert_array_equal(npy(xp.stack([x, x + 1], axis=axis)),
                                      np.stack([a, a + 1], axis))
    for src, dst in [(0, -1), (-1, 0), (1, 2), (2, 1)]:
        np.testing.assert_array_equal(npy(xp.moveaxis(x, src, dst)), np.moveaxis(a, src, dst))


def test_symbolic_dimensions_in_tf_function():
    """Shapes with unknown entries (scalar tensors) through the functions
    that take shapes or sizes."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        n, k = BE.shape(x)
        assert isinstance(k, int) and not isinstance(n, int)
        return (xp.arange(n, dtype=xp.int64), xp.reshape(x, (n * k,)),
                xp.squeeze(xp.expand_dims(x, axis=0), axis=0), xp.argmax(x, axis=1))

    a = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    ar, y, z, i = f(tf.constant(a))
    assert npy(ar).tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(npy(y), a.ravel())
    np.testing.assert_array_equal(npy(z), a)
    assert npy(i).tolist() == [2, 2, 2, 2]
