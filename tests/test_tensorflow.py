"""The TensorFlow backend: eager, tf.function (also with an unknown batch
dimension) and XLA give the same output for the same seed; GradientTape
gradients equal the analytic softmax Jacobian; straight-through; every kind
of rng; errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

_ENV = [n.strip() for n in os.environ.get("GUMBELXP_BACKENDS", "").split(",") if n.strip()]
if _ENV and "tensorflow" not in _ENV:
    pytest.skip("tensorflow is not in GUMBELXP_BACKENDS", allow_module_level=True)
tf = pytest.importorskip("tensorflow")

from gumbelxp.backends import backend_of, get_backend  # noqa: E402
from gumbelxp.conformance.support import to_numpy, vjp  # noqa: E402

import gumbelxp as gx  # noqa: E402

BE = get_backend("tensorflow")
LOGITS = np.log(np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.25] * 4])).astype(np.float32)


def npy(x):
    return to_numpy(x)


def calls(logits):
    """Every public sampling call with int seeds."""
    return {
        "soft": gx.gumbel_softmax(logits, tau=0.5, rng=7),
        "hard": gx.gumbel_softmax(logits, hard=True, rng=7),
        "max": gx.gumbel_max(logits, rng=7),
        "topk": gx.gumbel_topk(logits, 3, rng=7),
        "st": gx.straight_through(tf.nn.softmax(logits)),
        "logp": gx.relaxed_log_prob(tf.nn.softmax(logits), logits, 0.7),
        "gumbel": gx.gumbel((5, 4), like=logits, rng=7),
    }


def _same(a, b, key):
    if key in ("max", "topk", "hard", "st"):
        np.testing.assert_array_equal(npy(a), npy(b), err_msg=key)
    else:
        np.testing.assert_allclose(npy(a), npy(b), rtol=1e-5, atol=1e-6, err_msg=key)


def test_backend_detection_and_types():
    x = tf.constant(LOGITS)
    assert backend_of(x) is BE and backend_of(tf.Variable(LOGITS)) is BE
    out = gx.gumbel_softmax(x, rng=0)
    assert isinstance(out, tf.Tensor) and out.dtype == tf.float32 and out.shape == x.shape
    assert BE.device(out) == BE.device(x)
    assert gx.gumbel_max(x, rng=0).dtype == tf.int64
    assert gx.gumbel((3,), xp="tensorflow", rng=0).dtype == tf.float32
    assert gx.gumbel((3,), xp=tf, rng=0).dtype == tf.float32
    assert gx.gumbel((3,), xp=BE.namespace, dtype="float64", rng=0).dtype == tf.float64


@pytest.mark.parametrize("mode", ["function", "jit", "unknown_batch"])
def test_same_seed_same_output_in_every_mode(mode):
    x = tf.constant(LOGITS)
    eager = calls(x)
    if mode == "function":
        f = tf.function(calls)
    elif mode == "jit":
        f = tf.function(calls, jit_compile=True)
    else:
        f = tf.function(calls, input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    traced = f(x)
    for k in eager:
        _same(eager[k], traced[k], k)
    again = calls(x)  # and call after call
    for k in eager:
        _same(eager[k], again[k], k)


def test_seed_changes_output_and_statistics():
    x = tf.constant(LOGITS)
    a, b = gx.gumbel_softmax(x, rng=1), gx.gumbel_softmax(x, rng=2)
    assert not np.allclose(npy(a), npy(b))
    big = tf.broadcast_to(tf.constant(np.log([[0.1, 0.2, 0.7]]), tf.float32), (20000, 3))
    freq = np.bincount(npy(gx.gumbel_max(big, rng=3)), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)  # Gumbel-max theorem
    g = npy(gx.gumbel((200000,), xp="tensorflow", rng=4))
    assert abs(g.mean() - 0.5772) < 0.01 and abs(g.var() - np.pi**2 / 6) < 0.03


def test_unknown_batch_dimension_with_every_rng():
    sig = [tf.TensorSpec([None, 4], tf.float32)]
    gen = tf.random.Generator.from_seed(5)

    @tf.function(input_signature=sig)
    def f(x):
        n = BE.shape(x)[0]
        assert not isinstance(n, int)  # really traced with an unknown dimension
        return (gx.gumbel_softmax(x, hard=True, rng=gen), gx.gumbel_softmax(x, rng=None),
                gx.gumbel_max(x, noise=tf.zeros_like(x)), gx.gumbel_topk(x, 2, rng=1),
                gx.gumbel_softmax(x, tau=tf.fill([n], 0.5), rng=2))

    counts = []
    for rows in (3, 7):  # one trace, two batch sizes
        x = tf.constant(np.resize(LOGITS, (rows, 4)))
        hard, soft, mx, topk, per_slice = f(x)
        assert hard.shape == (rows, 4) and np.all(npy(hard).sum(1) == 1)
        np.testing.assert_allclose(npy(soft).sum(1), 1, rtol=1e-6)
        assert npy(mx).tolist() == np.argmax(npy(x), 1).tolist()
        assert topk.shape == (rows, 2) and per_slice.shape == (rows, 4)
        counts.append(f.experimental_get_tracing_count())
    assert counts[0] == counts[1]  # the second batch size did not retrace


def test_portable_rng_matches_numpy_and_needs_known_shape():
    x = tf.constant(LOGITS)
    y = gx.gumbel_softmax(x, rng=gx.PortableRNG(9))
    ref = gx.gumbel_softmax(LOGITS, rng=gx.PortableRNG(9))
    np.testing.assert_allclose(npy(y), ref, rtol=1e-5, atol=1e-6)
    r = gx.PortableRNG(9)
    gx.gumbel_softmax(x, rng=r)
    assert r.counter == LOGITS.size
    y2 = tf.function(lambda v: gx.gumbel_softmax(v, rng=gx.PortableRNG(9)), jit_compile=True)(x)
    np.testing.assert_allclose(npy(y2), ref, rtol=1e-5, atol=1e-6)
    f = tf.function(lambda v: gx.gumbel_softmax(v, rng=gx.PortableRNG(9)),
                    input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    with pytest.raises(ValueError, match="PortableRNG needs every dimension known"):
        f(x)


# -- rng kinds ---------------------------------------------------------------------------
def test_rng_none_follows_the_global_seed_like_tf_random_uniform():
    # what tf.random.uniform does after tf.random.set_seed: a repeatable sequence
    tf.random.set_seed(5)
    a = gx.gumbel_softmax(tf.constant(LOGITS))
    b = gx.gumbel_softmax(tf.constant(LOGITS))
    assert not np.allclose(npy(a), npy(b))
    tf.random.set_seed(5)
    np.testing.assert_array_equal(npy(a), npy(gx.gumbel_softmax(tf.constant(LOGITS))))
    np.testing.assert_array_equal(npy(b), npy(gx.gumbel_softmax(tf.constant(LOGITS))))


def test_generator_is_used_and_advanced_also_in_tf_function():
    g1, g2 = tf.random.Generator.from_seed(11), tf.random.Generator.from_seed(11)
    x = tf.constant(LOGITS)
    a = gx.gumbel_softmax(x, rng=g1)
    np.testing.assert_array_equal(npy(a), npy(gx.gumbel_softmax(x, rng=g2)))
    f = tf.function(lambda v: gx.gumbel_softmax(v, rng=g1), jit_compile=True)
    b, c = f(x), f(x)
    assert not np.allclose(npy(a), npy(b)) and not np.allclose(npy(b), npy(c))


def test_open_interval_even_when_tensorflow_draws_zero(monkeypatch):
    zeros = lambda shape, seed=None, dtype=tf.float32, **kw: tf.zeros(shape, dtype)  # noqa: E731
    monkeypatch.setattr(tf.random, "stateless_uniform", zeros)
    for dt, cell in ((tf.float32, 2.0**-24), (tf.float64, 2.0**-53)):
        u = BE.uniform(3, (4,), dt, None)
        assert np.all(npy(u) == cell)  # the zero cell's midpoint, so log(u) is finite
    g = gx.gumbel((4,), xp="tensorflow", rng=3)
    assert np.all(np.isfinite(npy(g)))


def test_uniform_range_and_grid():
    u = npy(BE.uniform(0, (200000,), tf.float32, None))
    assert 0 < u.min() and u.max() < 1
    u = npy(BE.uniform(tf.random.Generator.from_seed(0), (1000,), tf.float64, None))
    assert 0 < u.min() and u.max() < 1 and u.dtype == np.float64


def test_foreign_generator_is_a_type_error():
    x = tf.constant(LOGITS)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        gx.gumbel_softmax(x, rng=np.random.default_rng(0))
    with pytest.raises(TypeError):
        gx.gumbel_softmax(x, rng="seed")
    with pytest.raises(TypeError):
        gx.gumbel_softmax(LOGITS, rng=tf.random.Generator.from_seed(0))


# -- gradients -----------------------------------------------------------------------------
def _analytic(logits, noise, tau, cot):
    """Gradients of sum(cot * softmax((l + g) / tau)) for logits and tau."""
    s = (logits + noise).astype(np.float64)
    z = s / tau
    y = np.exp(z - z.max(-1, keepdims=True))
    y /= y.sum(-1, keepdims=True)
    inner = (cot * y).sum(-1, keepdims=True)
    g_logits = y * (cot - inner) / tau  # (diag(y) - y y^T) cot / tau
    g_tau = -(g_logits * s).sum(-1) / tau.ravel()  # d/dtau: -z/tau through the same Jacobian
    return y, g_logits, g_tau


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
@pytest.mark.parametrize("hard", [False, True])
def test_gradients_equal_analytic_softmax_jacobian(mode, hard):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 6))
    noise = rng.gumbel(size=(5, 6))
    tau = rng.uniform(0.3, 2.0, size=5)
    cot = rng.normal(size=(5, 6))
    y_ref, gl_ref, gt_ref = _analytic(logits, noise, tau[:, None], cot)
    tl, tn, tt, tc = (tf.constant(a, tf.float64) for a in (logits, noise, tau, cot))

    def grads(tl, tt):
        with tf.GradientTape() as tape:
            tape.watch([tl, tt])
            y = gx.gumbel_softmax(tl, tau=tt, hard=hard, noise=tn)
            loss = tf.reduce_sum(y * tc)
        return (y, *tape.gradient(loss, [tl, tt]))

    if mode != "eager":
        grads = tf.function(grads, jit_compile=mode == "jit")
    y, gl, gt = grads(tl, tt)
    if hard:
        np.testing.assert_array_equal(npy(y), np.eye(6)[y_ref.argmax(-1)])
    else:
        np.testing.assert_allclose(npy(y), y_ref, rtol=1e-12)
    np.testing.assert_allclose(npy(gl), gl_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npy(gt), gt_ref, rtol=1e-10, atol=1e-12)


def test_hard_straight_through_gradient_equals_soft_gradient_float32():
    v = tf.Variable(LOGITS)
    noise = tf.constant(np.random.default_rng(1).gumbel(size=LOGITS.shape), tf.float32)
    out = {}
    for hard in (False, True):
        with tf.GradientTape() as tape:
            y = gx.gumbel_softmax(v, tau=0.7, hard=hard, noise=noise)
            loss = tf.reduce_sum(y * tf.range(4, dtype=tf.float32))
        out[hard] = (y, tape.gradient(loss, v))
    assert np.all(np.isin(npy(out[True][0]), [0.0, 1.0]))
    assert np.all(npy(out[True][0]).sum(-1) == 1)
    assert np.abs(npy(out[False][1])).max() > 1e-3  # a gradient that is really there
    np.testing.assert_allclose(npy(out[True][1]), npy(out[False][1]), rtol=1e-6, atol=1e-7)


def test_straight_through_function_gradient():
    y = tf.constant([[0.2, 0.5, 0.3]])
    with tf.GradientTape() as tape:
        tape.watch(y)
        h = gx.straight_through(y)
        loss = tf.reduce_sum(h * tf.constant([[1.0, 2.0, 3.0]]))
    assert npy(h).tolist() == [[0.0, 1.0, 0.0]]
    assert npy(tape.gradient(loss, y)).tolist() == [[1.0, 2.0, 3.0]]


def test_masked_logits_zero_output_finite_gradients():
    x = tf.constant([[0.0, -np.inf, 1.0, -np.inf], [2.0, 0.5, -np.inf, 0.0]], tf.float32)
    tau = tf.constant([0.5, 2.0])
    f = tf.function(lambda x, t: _grad_pair(x, t), jit_compile=True)
    for fn in (_grad_pair, f):
        y, gx_, gt = fn(x, tau)
        assert np.all(npy(y)[np.isinf(npy(x))] == 0)
        assert np.all(np.isfinite(npy(gx_))) and np.all(np.isfinite(npy(gt)))


def _grad_pair(x, tau):
    with tf.GradientTape() as tape:
        tape.watch([x, tau])
        y = gx.gumbel_softmax(x, tau=tau, hard=True, rng=3)
        loss = tf.reduce_sum(y * tf.constant([1.0, 2.0, 3.0, 4.0]))
    return (y, *tape.gradient(loss, [x, tau]))


def test_vjp_support():
    x = tf.constant(LOGITS)
    cot = tf.ones_like(x)
    out, (g,) = vjp("tensorflow", lambda v: tf.nn.softmax(v) * 2.0, (x,), cot)
    np.testing.assert_allclose(npy(out), 2 * npy(tf.nn.softmax(x)), rtol=1e-6)
    np.testing.assert_allclose(npy(g), 0.0, atol=1e-6)  # rows sum to a constant


# -- dtypes, errors, modes -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float64])
def test_dtypes_round_trip_and_never_nan(dtype):
    x = tf.cast(tf.constant(LOGITS * 50), dtype)  # large logits: overflow in half without care
    for mode in (lambda f: f, tf.function, lambda f: tf.function(f, jit_compile=True)):
        y = mode(lambda v: gx.gumbel_softmax(v, tau=0.1, rng=0))(x)
        assert y.dtype == dtype and np.all(np.isfinite(npy(y)))
        np.testing.assert_allclose(npy(y).astype(np.float64).sum(-1), 1, rtol=2e-2)


def test_errors():
    x = tf.constant(LOGITS)
    with pytest.raises(TypeError, match="int32"):
        gx.gumbel_softmax(tf.constant([[1, 2]], tf.int32))
    with pytest.raises(TypeError, match="bool"):
        gx.gumbel_max(tf.constant([True, False]))
    with pytest.raises(ValueError):
        gx.gumbel_softmax(x, tau=0.0)
    with pytest.raises(ValueError):
        gx.gumbel_topk(x, 5)
    with pytest.raises(ValueError):
        gx.gumbel_softmax(x, axis=2)
    with pytest.raises(TypeError):
        gx.gumbel_softmax(x, rng=1, noise=tf.zeros_like(x))
    with pytest.raises(ValueError):
        gx.gumbel_softmax(x, noise=tf.zeros((3, 5)))


def test_validate_eager_raises_graph_refuses():
    bad = np.array(LOGITS)
    bad[1] = -np.inf
    x = tf.constant(bad)
    with pytest.raises(ValueError, match=r"logits\[1, :\]"):
        gx.gumbel_softmax(x, validate=True, rng=0)
    y = npy(gx.gumbel_softmax(x, rng=0))  # without validate: NaN confined to that slice
    assert np.all(np.isnan(y[1])) and np.all(np.isfinite(y[[0, 2]]))
    with pytest.raises(ValueError, match="tracing"):
        tf.function(lambda v: gx.gumbel_softmax(v, validate=True, rng=0))(tf.constant(LOGITS))


def test_axis_and_dim_alias():
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 4, 5)), tf.float32)
    a = gx.gumbel_softmax(x, axis=1, rng=0)
    np.testing.assert_allclose(npy(a).sum(1), 1, rtol=1e-6)
    np.testing.assert_array_equal(npy(a), npy(gx.gumbel_softmax(x, dim=1, rng=0)))
    assert gx.gumbel_topk(x, 2, axis=0, rng=0).shape == (2, 4, 5)


def test_shape_returns_scalar_tensors_for_unknown_dims():
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([None, 3, None], tf.float32)])
    def f(x):
        seen.append(BE.shape(x))
        return x

    f(tf.zeros((2, 3, 4)))
    n, k, m = seen[0]
    assert k == 3 and isinstance(k, int)
    assert isinstance(n, tf.Tensor) and n.shape.rank == 0 and isinstance(m, tf.Tensor)
    assert BE.shape(tf.zeros((2, 3))) == (2, 3)
    assert BE.is_concrete(tf.zeros(2)) and BE.is_concrete(tf.Variable([1.0]))


def test_cli_demo_and_info_include_tensorflow(capsys):
    from gumbelxp._cli import cmd_info, demo_backend, seed_softmax

    r = demo_backend("tensorflow", 20000, 0)
    assert r["pvalue"] > 1e-3
    np.testing.assert_allclose(r["freq"], seed_softmax(), atol=0.015)
    assert cmd_info(None) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tensorflow")]
    assert line and "available" in line[0] and tf.__version__ in line[0]


def test_import_gumbelxp_does_not_import_tensorflow():
    code = "import sys, gumbelxp; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
