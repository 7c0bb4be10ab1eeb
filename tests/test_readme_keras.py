"""The README's Keras example (### Keras under ## Examples) runs as written:
a Keras 3 model on the TensorFlow backend with gumbelxp.gumbel_softmax(hard=True)
in its forward pass trains and its loss falls."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

_ENV = [n.strip() for n in os.environ.get("GUMBELXP_BACKENDS", "").split(",") if n.strip()]
if _ENV and "tensorflow" not in _ENV:
    pytest.skip("tensorflow is not in GUMBELXP_BACKENDS", allow_module_level=True)
pytest.importorskip("tensorflow")
pytest.importorskip("keras")

README = Path(__file__).resolve().parent.parent / "README.md"


def keras_block() -> str:
    examples = README.read_text().split("## Examples", 1)[1].split("\n## ", 1)[0]
    section = re.search(r"### Keras\n(.*?)(?=\n### |\Z)", examples, re.S)
    assert section, "README.md has no '### Keras' subsection under '## Examples'"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_keras_block_uses_hard_gumbel_softmax():
    code = keras_block()
    assert "gx.gumbel_softmax(" in code and "hard=True" in code and ".fit(" in code


def test_keras_example_trains_with_decreasing_loss():
    code = keras_block()
    keras = sys.modules.get("keras")
    if keras is None or keras.backend.backend() == "tensorflow":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        ns: dict = {}
        exec(compile(code, str(README), "exec"), ns)
        losses = ns["losses"]
    else:  # keras already imported here with another backend: run it on its own
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        losses = [float(v) for v in out.stdout.split()[-6:]]
    assert len(losses) >= 3 and all(v == v for v in losses)  # trained, no NaN
    assert losses[-1] < 0.7 * losses[0]
    assert min(losses[1:]) < losses[0]
