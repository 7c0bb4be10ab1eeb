"""The documentation: the Sphinx site builds with warnings as errors and the
examples on it run (slow; skipped, saying why, without the ``docs`` extra),
and every public docstring's examples run under plain ``doctest``."""

import doctest
import html as html_lib
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gumbelxp as gx

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOCS_EXTRA = {"sphinx": "sphinx", "numpydoc": "numpydoc",
              "pydata_sphinx_theme": "pydata-sphinx-theme", "myst_parser": "myst-parser",
              "keras": "keras", "jax": "jax"}
MISSING = [pkg for mod, pkg in DOCS_EXTRA.items() if importlib.util.find_spec(mod) is None]
needs_sphinx = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)}): "
    'pip install -e ".[docs]"')


def _sphinx(builder, out):
    """``sphinx-build -W --keep-going -b builder docs out`` in a subprocess
    (a fresh environment: no cached pages)."""
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)  # the site's own choice (JAX) for gumbelxp.keras
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                           "-b", builder, str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=600, env=env)


def _text(page):
    """A page's text: no tags, entities decoded, Sphinx's curly quotes straight."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", page)).replace("\u2019", "'")


@pytest.mark.slow
@needs_sphinx
def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    r = _sphinx("html", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    html = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*.html")}
    for page in ("index.html", "examples.html", "backends.html", "bad-input.html", "cli.html",
                 "api/functions.html", "api/portable_rng.html", "api/keras.html",
                 "contributing.html"):
        assert page in html, sorted(html)
    # every public name has an entry (the page is generated from __all__)
    api = html["api/functions.html"] + html["api/portable_rng.html"]
    for name in gx.__all__:
        assert f'id="gumbelxp.{name}"' in api, name
    for cls in ("GumbelSoftmax", "GumbelSigmoid"):
        assert f'id="gumbelxp.keras.{cls}"' in html["api/keras.html"]
    # the backend matrix, from gumbelxp.conformance.support.backend_matrix()
    from gumbelxp.conformance.support import CAPABILITIES

    text = _text(html["backends.html"])
    for caps in CAPABILITIES.values():
        for row in (caps.rng_none, caps.int_seed, caps.native, caps.tested):
            assert row.replace("`", "") in text, row
    # the README's examples and bad-input table, and the command line's help
    assert "gx.gumbel_softmax(logits, tau=0.5, rng=0)" in _text(html["examples.html"])
    assert "TypeError" in html["bad-input.html"] and "validate=True" in html["bad-input.html"]
    for cmd in ("info", "demo", "check", "bench"):
        assert f"usage: gumbelxp {cmd}" in html["cli.html"]
    assert (tmp_path / "_images" / "demo.png").exists() or "demo.png" in html["index.html"]


@pytest.mark.slow
@needs_sphinx
def test_docs_examples_run_as_doctests(tmp_path):
    r = _sphinx("doctest", tmp_path)
    out = (tmp_path / "output.txt").read_text() if (tmp_path / "output.txt").exists() else ""
    assert r.returncode == 0, r.stdout + r.stderr + out
    ran = sum(int(n) for n in re.findall(r"^\s+(\d+) tests$", out, re.M))
    assert ran >= 20 and "0 failures in tests" in out, out


# ---------------------------------------------------------------------------
# without Sphinx: the docstrings of every public module
# ---------------------------------------------------------------------------
def public_modules():
    """``gumbelxp``, every module that defines a name of ``gumbelxp.__all__``,
    and ``gumbelxp.keras`` where Keras is installed."""
    mods = ["gumbelxp"] + sorted({getattr(gx, n).__module__ for n in gx.__all__})
    if importlib.util.find_spec("keras") is not None:
        mods.append("gumbelxp.keras")
    return list(dict.fromkeys(mods))


@pytest.mark.parametrize("module", public_modules())
def test_docstring_examples_of_public_modules(module):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in finder.find(mod, module):
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.attempted > 0, f"{module} has no docstring examples"
    assert res.failed == 0, f"{res.failed} of {res.attempted} doctest examples failed"


@pytest.mark.parametrize("name", gx.__all__)
def test_every_public_name_has_an_example(name):
    doc = inspect.getdoc(getattr(gx, name)) or ""
    assert "Examples\n--------" in doc and ">>>" in doc, f"gumbelxp.{name} shows no example"
