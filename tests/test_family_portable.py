"""The relaxation family and the estimators across backends: the same
PortableRNG seed gives the same values on every backend (against one NumPy
float64 reference built from the pure-Python Philox of the conformance
suite, within gumbelxp.conformance.support's tolerance table); the rows of API.md's
"Bad input" table for every new function; half precision in, half out."""

import re

import numpy as np
import pytest
from _family_support import NEG, arr, back
from gumbelxp.conformance import checks as C
from gumbelxp.conformance import reference_family as R
from gumbelxp.conformance.support import TOLERANCES, dtype_name, float_dtypes, from_numpy

import gumbelxp as gx

SEED = 1234
SHAPE = (3, 5)
LOGITS = np.array([[0.2, -1.0, 1.5, 0.0, 0.7],
                   [NEG, 0.3, -0.4, 2.0, NEG],
                   [1.0, 1.0, -2.0, 0.5, 0.1]])


def work(dt):
    """The dtype PortableRNG draws in: float32 for half precision."""
    return "float64" if dt == "float64" else "float32"


def noise(dt, shape=SHAPE, seed=SEED):
    return C.noise_ref(seed, shape, work(dt))


# name -> (call(x, rng), reference(logits64, dtype)); each draws from PortableRNG(SEED)
def _cases():
    idx = np.array([2, 3, 0])
    return {
        "gumbel_log_softmax": (
            lambda x, rng: gx.gumbel_log_softmax(x, 0.6, rng=rng),
            lambda lg, dt: R.gumbel_log_softmax_ref(lg, noise(dt), 0.6)),
        "gumbel_sigmoid": (
            lambda x, rng: gx.gumbel_sigmoid(x, 0.6, rng=rng),
            lambda lg, dt: np.where(np.isneginf(lg), 0.0, R.gumbel_sigmoid_ref(
                np.where(np.isneginf(lg), 0.0, lg),
                R.logistic_from_uniform(C.uniform_ref(SEED, SHAPE, work(dt))), 0.6))),
        "gumbel_sigmoid_hard": (
            lambda x, rng: gx.gumbel_sigmoid(x, 0.6, hard=True, rng=rng),
            lambda lg, dt: R.gumbel_sigmoid_ref(
                lg, R.logistic_from_uniform(C.uniform_ref(SEED, SHAPE, work(dt))), 0.6, True)),
        "relaxed_topk": (
            lambda x, rng: gx.relaxed_topk(x, 2, 0.8, rng=rng),
            lambda lg, dt: R.relaxed_topk_ref(lg, noise(dt), 2, 0.8)),
        "relaxed_topk_hard": (
            lambda x, rng: gx.relaxed_topk(x, 2, 0.8, hard=True, rng=rng),
            lambda lg, dt: R.k_hot(C.topk_ref(lg + noise(dt), 2, -1), 5)),
        "conditional_gumbel": (
            lambda x, rng: gx.conditional_gumbel(
                x, from_numpy(_be(x), idx, device=_be(x).device(x)), rng=rng),
            lambda lg, dt: R.conditional_gumbel_ref(lg, idx, noise(dt))),
        "reinmax": (
            lambda x, rng: gx.reinmax(x, 1.5, rng=rng),
            lambda lg, dt: np.eye(5)[(lg + noise(dt)).argmax(-1)]),
        "gumbel_rao": (
            lambda x, rng: gx.gumbel_rao(x, 0.5, samples=3, rng=rng),
            lambda lg, dt: np.eye(5)[(lg + noise(dt, (4, *SHAPE))[0]).argmax(-1)]),
    }


def _be(x):
    from gumbelxp.backends import backend_of

    return backend_of(x)


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_same_portable_seed_same_values_everywhere(backend, name):
    call, ref = CASES[name]
    for dt in float_dtypes(backend):
        x = arr(backend, LOGITS, dt)
        out = call(x, gx.PortableRNG(SEED))
        assert dtype_name(out) == dt and tuple(out.shape) == SHAPE
        got, want = back(out), ref(back(x), dt)
        r, a = TOLERANCES[dt]
        if dt in ("float16", "bfloat16"):  # one rounding of values up to ~25
            a *= 30
        assert (np.isneginf(got) == np.isneginf(want)).all()
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=r * 10, atol=a * 10,
                                   err_msg=f"{name} {dt}")


def test_same_portable_seed_densities_everywhere(backend):
    """The densities have no noise: the same inputs, the same values."""
    taus = np.array([0.5, 1.0, 2.0])
    ly = R.gumbel_log_softmax_ref(LOGITS, noise("float64"), taus)
    y = np.random.default_rng(0).uniform(0.05, 0.95, SHAPE)
    perm = np.array([[2, 0, 4], [3, 1, 2], [0, 1, 3]])
    for dt in float_dtypes(backend):
        x = arr(backend, LOGITS, dt)
        lg = back(x)
        lyb = arr(backend, ly, dt)
        r, a = TOLERANCES[dt]
        scale = 30 if dt in ("float16", "bfloat16") else 10
        got = back(gx.exp_relaxed_log_prob(lyb, x, arr(backend, taus, dt)))
        np.testing.assert_allclose(got, R.exp_relaxed_log_prob_ref(back(lyb), lg, back(
            arr(backend, taus, dt))), rtol=r * scale, atol=a * scale * 10)
        yb = arr(backend, y, dt)
        got = back(gx.relaxed_bernoulli_log_prob(yb, x, 0.7))
        want = R.relaxed_bernoulli_log_prob_ref(back(yb), lg, 0.7)
        np.testing.assert_allclose(got[np.isfinite(lg)], want[np.isfinite(lg)],
                                   rtol=r * scale, atol=a * scale)
        got = back(gx.plackett_luce_log_prob(from_numpy(backend, perm), x))
        want = [R.plackett_luce_ref(p, v) for p, v in zip(perm, lg, strict=True)]
        np.testing.assert_allclose(got, want, rtol=r * scale, atol=a * scale)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def _calls(be):
    """Every new function, as call(logits, **kw)."""
    x3 = lambda v: arr(be, np.log([[0.2, 0.3, 0.5]] * 2), v)  # noqa: E731
    return {
        "gumbel_log_softmax": lambda x, **kw: gx.gumbel_log_softmax(x, 0.5, **kw),
        "exp_relaxed_log_prob": lambda x, **kw: gx.exp_relaxed_log_prob(
            x3("float32"), x, kw.get("tau", 0.5), validate=kw.get("validate", False)),
        "gumbel_sigmoid": lambda x, **kw: gx.gumbel_sigmoid(x, 0.5, **kw),
        "relaxed_bernoulli_log_prob": lambda x, **kw: gx.relaxed_bernoulli_log_prob(
            arr(be, np.full((2, 3), 0.5)), x, kw.get("tau", 0.5),
            validate=kw.get("validate", False)),
        "relaxed_topk": lambda x, **kw: gx.relaxed_topk(x, 2, 0.5, **kw),
        "plackett_luce_log_prob": lambda x, **kw: gx.plackett_luce_log_prob(
            from_numpy(be, np.array([[0, 2], [1, 0]])), x, validate=kw.get("validate", False)),
        "conditional_gumbel": lambda x, **kw: gx.conditional_gumbel(
            x, from_numpy(be, np.array([0, 1])), **{k: v for k, v in kw.items()
                                                    if k == "rng"}),
        "reinmax": lambda x, **kw: gx.reinmax(x, 1.0, **kw),
        "gumbel_rao": lambda x, **kw: gx.gumbel_rao(x, 0.5, **kw),
    }


NAMES = list(_calls(None))
NOISY = ["gumbel_log_softmax", "gumbel_sigmoid", "relaxed_topk", "conditional_gumbel",
         "reinmax", "gumbel_rao"]
SLICEWISE = ["gumbel_log_softmax", "exp_relaxed_log_prob", "relaxed_topk",
             "plackett_luce_log_prob", "reinmax", "gumbel_rao"]


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_or_bool_logits(backend, dtype):
    xp = backend.namespace
    x = xp.astype(backend.asarray([[1, 0, 1], [0, 1, 1]]), getattr(xp, dtype))
    name = dtype_name(x)
    for what, f in _calls(backend).items():
        kw = {"rng": 0} if what in NOISY else {}
        with pytest.raises(TypeError, match=re.escape(name)):
            f(x, **kw)


@pytest.mark.parametrize("what", ["gumbel_log_softmax", "gumbel_sigmoid", "relaxed_topk",
                                  "reinmax", "gumbel_rao", "exp_relaxed_log_prob",
                                  "relaxed_bernoulli_log_prob"])
def test_bad_python_tau(backend, what):
    x = arr(backend, np.zeros((2, 3)))
    taus = (0.0, -1.0, float("inf"), float("nan"), np.float64(-1.0))
    for tau in taus:
        with pytest.raises(ValueError):
            if what in ("exp_relaxed_log_prob", "relaxed_bernoulli_log_prob"):
                _calls(backend)[what](x, tau=tau)
            elif what == "reinmax":
                gx.reinmax(x, tau, rng=0)
            elif what == "gumbel_rao":
                gx.gumbel_rao(x, tau, rng=0)
            elif what == "relaxed_topk":
                gx.relaxed_topk(x, 2, tau, rng=0)
            else:
                getattr(gx, what)(x, tau, rng=0)


@pytest.mark.parametrize("what", SLICEWISE)
def test_validate_names_the_first_bad_slice(backend, what):
    f = _calls(backend)[what]
    kw = {"rng": 0} if what in NOISY else {}
    bad = arr(backend, [[0.0, 1.0, 2.0], [NEG, NEG, NEG]])
    with pytest.raises(ValueError, match=r"logits\[1, :\]"):
        f(bad, validate=True, **kw)
    nan = arr(backend, [[0.0, np.nan, 2.0], [0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match=r"logits\[0, :\]"):
        f(nan, validate=True, **kw)
    # without validate the bad slice is NaN and the other one is untouched
    out = back(f(nan, **({"rng": gx.PortableRNG(0)} if what in NOISY else {})))
    if out.ndim == 2:
        assert np.isnan(out[0]).all() and not np.isnan(out[1]).any()
    else:
        assert np.isnan(out[0]) and not np.isnan(out[1])


@pytest.mark.parametrize("what", NOISY)
def test_rng_errors(backend, what):
    f = _calls(backend)[what]
    x = arr(backend, np.zeros((2, 3)))
    with pytest.raises(TypeError):
        f(x, rng="seed")
    if what in ("gumbel_log_softmax", "gumbel_sigmoid", "relaxed_topk", "reinmax"):
        with pytest.raises(TypeError):
            f(x, rng=0, noise=x)
        with pytest.raises(ValueError):
            f(x, noise=arr(backend, np.zeros((3, 2))))


def test_axis_out_of_range(backend):
    x = arr(backend, np.zeros((2, 3)))
    for f in (lambda: gx.gumbel_log_softmax(x, axis=2, rng=0),
              lambda: gx.relaxed_topk(x, 1, axis=-3, rng=0),
              lambda: gx.reinmax(x, axis=5, rng=0),
              lambda: gx.gumbel_rao(x, axis=2, rng=0),
              lambda: gx.exp_relaxed_log_prob(x, x, 1.0, axis=2),
              lambda: gx.plackett_luce_log_prob(from_numpy(backend, np.zeros((2, 1), np.int64)),
                                                x, axis=3),
              lambda: gx.conditional_gumbel(x, from_numpy(backend, np.zeros(2, np.int64)),
                                            axis=2, rng=0)):
        with pytest.raises((ValueError, IndexError)):
            f()


def test_unknown_array_type():
    for f in (lambda: gx.gumbel_log_softmax([0.0, 1.0]),
              lambda: gx.gumbel_sigmoid([0.0, 1.0]),
              lambda: gx.reinmax([0.0, 1.0])):
        with pytest.raises(TypeError, match="supported backends"):
            f()


def test_half_precision_in_half_out_never_nan(backend):
    halves = [d for d in float_dtypes(backend) if d in ("float16", "bfloat16")]
    for dt in halves:
        x = arr(backend, LOGITS, dt)
        for name, (call, _) in CASES.items():
            out = call(x, gx.PortableRNG(9))
            assert dtype_name(out) == dt, name
            assert not np.isnan(back(out)).any(), name
        for tau in (1e-3, 1.0):
            ly = gx.gumbel_log_softmax(x, tau, rng=gx.PortableRNG(1))
            v = back(gx.exp_relaxed_log_prob(ly, x, tau))
            assert dtype_name(ly) == dt and np.isfinite(v).all()


# ---------------------------------------------------------------------------
# docstring examples of the new modules
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["gumbelxp._relaxed", "gumbelxp._densities", "gumbelxp._estimators"])
def test_doctests(module):
    import doctest
    import importlib

    if module.endswith("_estimators"):
        pytest.importorskip("torch")  # its examples show the gradients on PyTorch
    mod = importlib.import_module(module)
    tests = doctest.DocTestFinder(exclude_empty=True).find(mod, module)
    assert sum(len(t.examples) for t in tests) >= (15 if module.endswith("_family") else 6)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} doctest examples failed"


def test_dask_chunking_does_not_matter():
    """Dask arrays split along and across the categories' axis: the same
    values as NumPy for the same PortableRNG seed, lazily."""
    from gumbelxp.conformance.support import selected_backends

    if "dask" not in selected_backends():
        pytest.skip("dask is not among the selected backends")
    import dask.array as da

    r = np.random.default_rng(0)
    base = r.normal(size=(6, 8))
    base[1, 3] = NEG
    for ax in (-1, 0):
        xn = base if ax == -1 else base.T.copy()
        xd = da.from_array(xn, chunks=3)
        perm = np.argsort(-xn, axis=ax)
        perm = perm[:, :3] if ax == -1 else perm[:3]
        idx = np.array([0, 2, 4, 1, 6, 7])

        def calls(x, lazy, ax=ax, perm=perm, idx=idx):
            wrap = (lambda a: da.from_array(a, chunks=2)) if lazy else (lambda a: a)
            rng = gx.PortableRNG
            return {
                "gumbel_log_softmax": gx.gumbel_log_softmax(x, 0.5, axis=ax, rng=rng(1)),
                "relaxed_topk": gx.relaxed_topk(x, 3, 0.5, axis=ax, rng=rng(1)),
                "relaxed_topk_hard": gx.relaxed_topk(x, 3, hard=True, axis=ax, rng=rng(1)),
                "gumbel_sigmoid": gx.gumbel_sigmoid(x, 0.5, rng=rng(1)),
                "conditional_gumbel": gx.conditional_gumbel(x, wrap(idx), axis=ax, rng=rng(1)),
                "reinmax": gx.reinmax(x, 1.0, axis=ax, rng=rng(1)),
                "gumbel_rao": gx.gumbel_rao(x, 1.0, axis=ax, rng=rng(1)),
                "exp_relaxed_log_prob": gx.exp_relaxed_log_prob(
                    gx.gumbel_log_softmax(x, 0.5, axis=ax, rng=rng(1)), x, 0.5, axis=ax),
                "plackett_luce_log_prob": gx.plackett_luce_log_prob(wrap(perm), x, axis=ax),
            }

        want, got = calls(xn, False), calls(xd, True)
        for name, lazy in got.items():
            assert isinstance(lazy, da.Array), name
            np.testing.assert_allclose(np.asarray(lazy.compute()), want[name], rtol=1e-12,
                                       atol=1e-12, err_msg=name)
