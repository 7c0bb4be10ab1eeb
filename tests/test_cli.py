"""The command line: ``gumbelxp info`` and ``gumbelxp demo`` (in process via
``gumbelxp._cli.main`` and as a subprocess via ``python -m gumbelxp``)."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gumbelxp.conformance.checks import chi2_sf
from gumbelxp.conformance.support import selected_backends
from scipy import stats

from gumbelxp._cli import main

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX = np.exp([1.0, 2.0, 3.0, 4.0]) / np.exp([1.0, 2.0, 3.0, 4.0]).sum()


def test_seed_softmax_reference():
    # the numbers the demo must print, from the closed form here
    assert [f"{v:.4f}" for v in SOFTMAX] == ["0.0321", "0.0871", "0.2369", "0.6439"]


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    import numpy

    assert f"numpy {numpy.__version__}" in out
    for name in selected_backends():
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert "available" in line, line
        assert "cpu" in line.lower(), line  # its devices


def parse_demo(out):
    """{backend: (softmax row, frequency row, chi2, p-value)} from demo's table."""
    blocks = {}
    for m in re.finditer(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", out, re.S | re.M):
        body = m.group(2)

        def row(key, body=body):
            return [float(v) for v in re.search(rf"^\s*{key}\s+(.*)$", body, re.M).group(1).split()]

        chi = re.search(r"chi-square ([\d.]+) \(3 dof\), p-value ([\d.]+)", body)
        assert chi, body
        blocks[m.group(1)] = (row("softmax"), row("frequency"), float(chi.group(1)),
                              float(chi.group(2)), body)
    return blocks


def check_block(block, draws):
    soft, freq, chi2, p, body = block
    assert [f"{v:.4f}" for v in soft] == ["0.0321", "0.0871", "0.2369", "0.6439"]
    assert "0.0321" in body and "0.6439" in body
    assert math.isclose(sum(freq), 1.0, abs_tol=3e-4)
    # frequencies are within 5 standard errors of softmax
    se = np.sqrt(SOFTMAX * (1 - SOFTMAX) / draws)
    assert (np.abs(np.array(freq) - SOFTMAX) < 5 * se + 1e-4).all(), freq
    # the printed p-value is the chi-square survival function of the printed
    # statistic (both rounded when printed: 2 and 3 decimals)
    lo, hi = stats.chi2.sf(chi2 + 0.005, 3), stats.chi2.sf(max(chi2 - 0.005, 0.0), 3)
    assert lo - 5e-4 <= p <= hi + 5e-4
    assert p > 1e-4
    # one Gumbel-Softmax sample per temperature, each on the simplex
    for tau in ("0.1", "1.0", "10.0"):
        m = re.search(rf"gumbel_softmax tau={re.escape(tau)}\s+(.*)$", body, re.M)
        assert m, body
        y = [float(v) for v in m.group(1).split()]
        assert len(y) == 4 and all(0 <= v <= 1 for v in y)
        assert math.isclose(sum(y), 1.0, abs_tol=3e-4)


def test_demo_numpy_in_process(capsys):
    assert main(["demo", "--backends", "numpy", "--draws", "20000"]) == 0
    blocks = parse_demo(capsys.readouterr().out)
    assert set(blocks) == {"numpy"}
    check_block(blocks["numpy"], 20000)


@pytest.mark.slow
def test_demo_all_selected_backends_in_process(capsys):
    names = ",".join(selected_backends())
    assert main(["demo", "--backends", names, "--draws", "20000", "--seed", "3"]) == 0
    blocks = parse_demo(capsys.readouterr().out)
    assert set(blocks) == set(selected_backends())
    for b in blocks.values():
        check_block(b, 20000)


def test_demo_subprocess():
    r = subprocess.run([sys.executable, "-m", "gumbelxp", "demo", "--backends", "numpy",
                        "--draws", "20000"], capture_output=True, text=True, timeout=120,
                       cwd=ROOT / "tests")
    assert r.returncode == 0, r.stderr
    assert "softmax" in r.stdout and "p-value" in r.stdout
    check_block(parse_demo(r.stdout)["numpy"], 20000)


def test_unknown_backend_and_command():
    with pytest.raises(SystemExit):
        main(["demo", "--backends", "nosuchframework"])
    with pytest.raises(SystemExit):
        main(["nosuchcommand"])


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("x", [0.1, 1.0, 3.0, 7.8, 25.0])
def test_chi2_sf_matches_scipy(df, x):
    assert math.isclose(chi2_sf(x, df), stats.chi2.sf(x, df), rel_tol=1e-9, abs_tol=1e-15)
