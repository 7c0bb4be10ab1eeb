"""Sphinx configuration of gumbelxp's documentation.

Build (warnings are errors, as in CI)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

Nothing here is written by hand twice: the README's sections are included
(MyST), the backend matrix comes from
``gumbelxp.conformance.support.backend_matrix()``, the API reference from
``gumbelxp.__all__`` and the command-line page from the CLI's own parser,
all when the site is built.
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import io
import os
from pathlib import Path

# gumbelxp.keras's page and its doctest run on Keras's JAX backend (the
# lightest real one: the docs extra installs it); a backend chosen by the
# user wins
os.environ.setdefault("KERAS_BACKEND", "jax")

import gumbelxp  # noqa: E402  (the installed package: pip install -e ".[docs]")

project = "gumbelxp"
author = "the gumbelxp developers"
copyright = "2026, the gumbelxp developers"
release = version = gumbelxp.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
# the README's sections start at level 2 or 3 when a page includes them
suppress_warnings = ["myst.header"]
myst_heading_anchors = 3

autosummary_generate = False
autodoc_typehints = "none"  # the numpydoc sections give the types, in words
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

doctest_global_setup = "import numpy as np\nimport gumbelxp as gx"
doctest_default_flags = (doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                         | doctest.IGNORE_EXCEPTION_DETAIL | doctest.DONT_ACCEPT_TRUE_FOR_1)

html_theme = "pydata_sphinx_theme"
html_title = f"gumbelxp {release}"
html_static_path = ["_static"]
html_css_files = ["gumbelxp.css"]
html_theme_options = {
    "github_url": "https://github.com/gumbelxp/gumbelxp",
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
# the section navigation only where a section has pages (the API reference)
html_sidebars = {"api/*": ["sidebar-nav-bs"]}
html_sidebars.update({p.stem: [] for p in Path(__file__).parent.glob("*.md")})
html_show_sourcelink = False


# ---------------------------------------------------------------------------
# pages generated at build time: placeholders replaced in the source
# ---------------------------------------------------------------------------
#: section titles of the API page, in order, by the module a public name is
#: defined in; a module not named here gets a section after these, titled
#: from its name
API_SECTIONS = {
    "_sampling": "Sampling",
    "_relaxed": "The relaxation family",
    "_densities": "Densities",
    "_estimators": "Gradient estimators",
    "_portable": "Random numbers",
}
#: public names with a page of their own
OWN_PAGE = {"PortableRNG"}


def api_reference() -> str:
    """reST for every name in ``gumbelxp.__all__`` (but those with their own
    page), grouped by the module that defines it: a summary table, then each
    entry."""
    groups: dict[str, list[tuple[str, object]]] = {}
    for name in gumbelxp.__all__:
        if name in OWN_PAGE:
            continue
        obj = getattr(gumbelxp, name)
        mod = getattr(obj, "__module__", "gumbelxp").rsplit(".", 1)[-1]
        groups.setdefault(mod, []).append((name, obj))
    order = list(API_SECTIONS)
    out = [".. currentmodule:: gumbelxp", ""]
    for mod, items in sorted(groups.items(), key=lambda kv: (
            order.index(kv[0]) if kv[0] in order else len(order))):
        title = API_SECTIONS.get(mod) or mod.strip("_").replace("_", " ").capitalize()
        out += [title, "-" * len(title), "", ".. autosummary::", "   :nosignatures:", ""]
        out += [f"   {name}" for name, _ in items] + [""]
        for name, obj in items:
            directive = "autoclass" if inspect.isclass(obj) else "autofunction"
            out += [f".. {directive}:: {name}", ""]
    return "\n".join(out)


#: backends per table: the whole matrix is too wide for a page
MATRIX_COLUMNS = 4


def backend_matrix() -> str:
    """``backend_matrix()``'s Markdown table, split into tables of at most
    :data:`MATRIX_COLUMNS` backends, each with the row titles."""
    from gumbelxp.conformance.support import backend_matrix as matrix

    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in matrix().splitlines()]
    head, body = rows[0], rows[2:]
    out = []
    for start in range(1, len(head), MATRIX_COLUMNS):
        cols = [0, *range(start, min(start + MATRIX_COLUMNS, len(head)))]
        out.append("| " + " | ".join(head[i] for i in cols) + " |")
        out.append("|" + "---|" * len(cols))
        out += ["| " + " | ".join(r[i] for i in cols) + " |" for r in body]
        out.append("")
    return "\n".join(out)


def cli_help() -> str:
    """``--help`` of ``gumbelxp`` and each command, as Markdown code blocks."""
    from gumbelxp._cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal: a fixed width
    try:
        ap = build_parser()
        sub = next(a for a in ap._actions if a.__class__.__name__ == "_SubParsersAction")
        parts = ["```text", ap.format_help().rstrip(), "```", ""]
        for name, p in sub.choices.items():
            parts += [f"## gumbelxp {name}", "", "```text", p.format_help().rstrip(), "```", ""]
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(parts)


PLACEHOLDERS = {
    "<!-- gumbelxp:api-reference -->": api_reference,
    "<!-- gumbelxp:backend-matrix -->": backend_matrix,
    "<!-- gumbelxp:cli-help -->": cli_help,
}


def _fill(app, docname, source) -> None:
    for key, make in PLACEHOLDERS.items():
        if key in source[0]:
            with contextlib.redirect_stdout(io.StringIO()):
                source[0] = source[0].replace(key, make())


def _class_signature(app, what, name, obj, options, signature, return_annotation):
    """A class whose base defines ``__new__(*args, **kwargs)`` (Keras layers)
    would show that signature: show its ``__init__``'s instead."""
    if what == "class" and signature == "(*args, **kwargs)":
        try:
            sig = inspect.signature(obj.__init__)
        except (TypeError, ValueError):
            return None
        params = [p.replace(annotation=p.empty)  # as autodoc_typehints = "none"
                  for p in list(sig.parameters.values())[1:]]  # without self
        return str(sig.replace(parameters=params, return_annotation=sig.empty)), None
    return None


def setup(app):
    app.connect("source-read", _fill)
    app.connect("autodoc-process-signature", _class_signature)
    return {"parallel_read_safe": True}
