"""Every Python example in README.md runs as written (on the frameworks installed).

Each ```python block under "## Examples" runs in a fresh namespace; a block
whose framework is missing or excluded by $GUMBELXP_BACKENDS is skipped with
that reason. The Keras block has its own test (it trains and checks the loss).
"""

import importlib.util
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_FRAMEWORKS = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow", "keras": "tensorflow",
               "cupy": "cupy", "dask": "dask", "array_api_strict": "array_api_strict"}


def _blocks():
    text = README.read_text()
    examples = text.split("## Examples", 1)[1].split("\n## ", 1)[0]
    out = []
    for heading, body in re.findall(r"### ([^\n]+)\n(.*?)(?=\n### |\Z)", examples, re.S):
        if heading.strip().lower() == "keras":
            continue
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", body, re.S)):
            out.append(pytest.param(code, id=f"{heading.strip()}-{i}"))
    return out


def _needed(code):
    mods = set(re.findall(r"^\s*import ([\w.]+)", code, re.M))
    mods |= {m.strip().split(".")[0] for line in re.findall(r"^\s*import (.+)$", code, re.M)
             for m in line.split(",")}
    return {_FRAMEWORKS[m.split(".")[0].split()[0]] for m in mods
            if m.split(".")[0].split()[0] in _FRAMEWORKS}


def test_readme_has_examples():
    assert len(_blocks()) >= 5


@pytest.mark.parametrize("code", _blocks())
def test_readme_example_runs(code):
    selected = os.environ.get("GUMBELXP_BACKENDS")
    for fw in _needed(code):
        if importlib.util.find_spec(fw) is None:
            pytest.skip(f"{fw} is not installed")
        if selected and fw not in selected.split(","):
            pytest.skip(f"{fw} is not in GUMBELXP_BACKENDS")
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)  # the examples assert their claims
    assert "gx" in namespace
