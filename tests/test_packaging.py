"""Packaging and import hygiene: ``import gumbelxp`` loads no framework, the
wheel's only top-level name is ``gumbelxp`` (with the backends, ``py.typed``
and the console script), and the docstring examples run."""

import configparser
import doctest
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("torch", "jax", "jaxlib", "tensorflow", "cupy", "dask", "array_api_strict",
              "keras", "scipy")


def loaded_after(code: str) -> list[str]:
    """Frameworks in sys.modules after running ``code`` in a fresh interpreter."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([m for m in {FRAMEWORKS!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT / "tests", timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_gumbelxp_imports_no_framework():
    assert loaded_after("import gumbelxp") == []
    assert loaded_after("import gumbelxp.backends, gumbelxp.conformance") == []
    # the probe itself can see an import: importing torch is reported
    if importlib.util.find_spec("torch") is not None:
        assert "torch" in loaded_after("import gumbelxp, torch")


def test_numpy_calls_import_no_other_framework():
    code = """
import numpy as np, gumbelxp as gx
x = np.log(np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]))
gx.gumbel_softmax(x, 0.5, rng=0)
gx.gumbel_softmax(x, 0.5, hard=True, rng=gx.PortableRNG(1))
gx.gumbel_max(x, rng=np.random.default_rng(0))
gx.gumbel_topk(x, 2)
gx.gumbel((3,), rng=0)
gx.straight_through(x)
gx.relaxed_log_prob(np.exp(x), x, 1.0)
try:
    gx.gumbel_softmax([1.0, 2.0])
except TypeError:
    pass
"""
    assert loaded_after(code) == []


# ---------------------------------------------------------------------------
# the wheel
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # build from a clean copy: no stale build/ of the checkout leaks into the wheel
    src = out / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis", ".*_cache"))
    # offline and fast when setuptools is already here; else pip's isolated build
    isolation = ([] if importlib.util.find_spec("setuptools") is None
                 else ["--no-build-isolation"])
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
           "-w", str(out), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("gumbelxp-*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


@pytest.mark.slow
def test_wheel_layout(wheel):
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"gumbelxp"}, top
    backends = {p.name for p in (ROOT / "backends").glob("*.py")}
    shipped = {n.split("/")[-1] for n in names if n.startswith("gumbelxp/backends/")}
    assert backends <= shipped, backends - shipped
    assert {"__init__.py", "_base.py", "_numpy.py", "_torch.py", "_jax.py"} <= shipped
    assert "gumbelxp/py.typed" in names
    assert "gumbelxp/_sampling.py" in names and "gumbelxp/__init__.py" in names
    conformance = {p.name for p in (ROOT / "conformance").glob("*.py")}
    shipped = {n.split("/")[-1] for n in names if n.startswith("gumbelxp/conformance/")}
    assert conformance <= shipped, conformance - shipped
    assert "gumbelxp/conformance/bench/speed.py" in names
    assert not any(n.startswith(("tests/", "backends/", "conformance/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_imports_backends_and_conformance(wheel, tmp_path):
    """From the wheel alone (no checkout on the path, no editable finder),
    gumbelxp, gumbelxp.backends and gumbelxp.conformance import and run."""
    target = tmp_path / "site"
    wheel.extractall(target)  # a wheel is its installed tree
    code = ("import gumbelxp, gumbelxp.backends as b, gumbelxp.conformance.checks as c, numpy as np;"
            f"assert all(m.__file__.startswith({str(target)!r}) for m in (gumbelxp, b, c));"
            "assert c.philox_ref(*c.KAT[0][:2]) == c.KAT[0][2];"
            "print(gumbelxp.gumbel_softmax(np.zeros(3), rng=0).sum())")
    env = dict(os.environ, PYTHONPATH=str(target))  # first on the path: before any install
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert abs(float(r.stdout.split()[-1]) - 1.0) < 1e-12


@pytest.mark.slow
def test_wheel_declares_console_script(wheel):
    ep = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    cfg = configparser.ConfigParser()
    cfg.read_string(wheel.read(ep).decode())
    assert cfg["console_scripts"]["gumbelxp"].strip() == "gumbelxp._cli:main"
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    text = wheel.read(meta).decode()
    requires = [ln.split(":", 1)[1].strip() for ln in text.splitlines()
                if ln.startswith("Requires-Dist:") and "extra ==" not in ln]
    assert sorted(r.split(">")[0].split("=")[0].split("<")[0].strip() for r in requires) == [
        "array-api-compat", "numpy"]


def test_console_script_target_is_callable():
    from gumbelxp._cli import main

    assert callable(main)
    assert main(["info"]) == 0


# ---------------------------------------------------------------------------
# docstring examples
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["gumbelxp", "gumbelxp._sampling", "gumbelxp._densities",
                                    "gumbelxp._portable"])
def test_doctests(module):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(mod, module)
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 2, f"{module} lost its examples"
    for t in tests:
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} doctest examples failed"


# ---------------------------------------------------------------------------
# the tests' outside oracles are installed by the test extra
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["scipy.stats", "tensorflow_probability.substrates.numpy",
                                    "reinmax", "randomgen"])
def test_oracles_of_the_test_extra_import(module):
    """The oracle tests skip when their reference is missing; with the test
    extra installed (as CI installs it) none may be missing, or a whole family
    of comparisons would silently stop running."""
    importlib.import_module(module)
