"""The README's Keras example (### Keras under ## Examples) runs as written on
every Keras backend installed here (TensorFlow, JAX, PyTorch), each in its own
process (Keras picks its backend at import), and its loss falls; two runs
give the same losses (keras.utils.set_random_seed seeds the layer's noise)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")
README = Path(__file__).resolve().parent.parent / "README.md"
_ENV = [n.strip() for n in os.environ.get("GUMBELXP_BACKENDS", "").split(",") if n.strip()]
KERAS_BACKENDS = [b for b in ("tensorflow", "jax", "torch")
                  if importlib.util.find_spec(b) is not None and (not _ENV or b in _ENV)]


def keras_block() -> str:
    examples = README.read_text().split("## Examples", 1)[1].split("\n## ", 1)[0]
    section = re.search(r"### Keras\n(.*?)(?=\n### |\Z)", examples, re.S)
    assert section, "README.md has no '### Keras' subsection under '## Examples'"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_keras_block_uses_the_layer():
    code = keras_block()
    assert "gxk.GumbelSoftmax(" in code and "hard=True" in code and ".fit(" in code


@pytest.mark.slow
@pytest.mark.parametrize("backend", KERAS_BACKENDS)
def test_keras_example_trains_and_repeats(backend):
    code = keras_block()
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append([float(v) for v in out.stdout.split()[-6:]])
    losses = runs[0]
    assert len(losses) == 6 and all(v == v for v in losses)  # trained, no NaN
    assert losses[-1] < 0.7 * losses[0]
    assert runs[0] == runs[1]  # set_random_seed made the noise repeat
