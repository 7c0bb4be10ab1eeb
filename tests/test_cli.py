"""The command line: ``gumbelxp info``, ``demo``, ``check`` and the help of
every option (in process via ``gumbelxp._cli.main`` and as a subprocess via
``python -m gumbelxp``). ``bench`` is in test_bench.py."""

import argparse
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import gumbelxp.conformance.checks as C
import numpy as np
import pytest
from gumbelxp.conformance.checks import chi2_sf
from gumbelxp.conformance.support import selected_backends
from scipy import stats

from gumbelxp import _plot
from gumbelxp._cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SOFTMAX = np.exp([1.0, 2.0, 3.0, 4.0]) / np.exp([1.0, 2.0, 3.0, 4.0]).sum()
HAS_MPL = importlib.util.find_spec("matplotlib") is not None
#: lines a framework's native code writes to stderr (absl, TensorFlow, XLA)
NATIVE_LOG = re.compile(r"^(WARNING: All log messages|[IWEF]\d{4} |.*oneDNN)", re.M)


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


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
_N = r"-?\d+\.\d+"  # a printed number


def parse_demo(out):
    """{"same": {backend: (4 values as printed, i)}, "law": {backend: (freq,
    chi2, p)}, "softmax": row, "taus": {tau: row}} from demo's text."""
    s1 = out.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    s2 = out.split("\n2. ", 1)[1].split("\n3. ", 1)[0]
    s3 = out.split("\n3. ", 1)[1]
    row4 = rf"((?:{_N}\s+){{3}}{_N})"
    same = {m.group(1): (m.group(2).split(), int(m.group(3))) for m in re.finditer(
        rf"^   (\w+)\s+{row4}\s+(\d)$", s1, re.M)}
    law = {m.group(1): ([float(v) for v in m.group(2).split()], float(m.group(3)),
                        float(m.group(4)))
           for m in re.finditer(rf"^   (\w+)\s+{row4}\s+({_N})\s+({_N})$", s2, re.M)}
    soft = re.search(rf"^   softmax\(logits\)\s+{row4}$", s2, re.M)
    taus = {m.group(1): [float(v) for v in m.group(2).split()] for m in re.finditer(
        rf"^   ([\d.]+)\s+{row4}$", s3, re.M)}
    return {"same": same, "law": law, "softmax": [float(v) for v in soft.group(1).split()],
            "taus": taus}


def check_law_row(freq, chi2, p, draws):
    assert math.isclose(sum(freq), 1.0, abs_tol=3e-4)
    # frequencies are within 5 standard errors of softmax
    se = np.sqrt(SOFTMAX * (1 - SOFTMAX) / draws)
    assert (np.abs(np.array(freq) - SOFTMAX) < 5 * se + 1e-4).all(), freq
    # the printed p-value is the chi-square survival function of the printed
    # statistic (both rounded when printed: 2 and 3 decimals)
    lo, hi = stats.chi2.sf(chi2 + 0.005, 3), stats.chi2.sf(max(chi2 - 0.005, 0.0), 3)
    assert lo - 5e-4 <= p <= hi + 5e-4
    assert p > 1e-4


def check_demo(out, backends, draws):
    d = parse_demo(out)
    assert [f"{v:.4f}" for v in d["softmax"]] == ["0.0321", "0.0871", "0.2369", "0.6439"]
    assert "softmax(logits) = [0.032, 0.087, 0.237, 0.644]" in out
    assert set(d["same"]) == set(backends) == set(d["law"])
    # the PortableRNG sample: the same printed numbers on every framework
    rows = {tuple(v) for v, _ in d["same"].values()}
    assert len(rows) == 1, d["same"]
    y = [float(v) for v in next(iter(rows))]
    assert math.isclose(sum(y), 1.0, abs_tol=3e-4) and all(0 <= v <= 1 for v in y)
    assert {i for _, i in d["same"].values()} == {int(np.argmax(y))}
    if len(backends) > 1:
        assert f"The {len(backends)} frameworks agree to within float32 tolerance" in out
    else:
        assert "One framework ran: nothing to compare it with" in out
    for freq, chi2, p in d["law"].values():
        check_law_row(freq, chi2, p, draws)
    # the sweep: the tau = 1 row is the sample above; small tau is one-hot
    assert d["taus"]["1"] == y
    assert int(np.argmax(d["taus"]["0.1"])) == int(np.argmax(y))  # towards its one-hot
    assert max(d["taus"]["0.1"]) >= max(d["taus"]["0.5"]) >= max(y) > max(d["taus"]["10"])
    assert max(d["taus"]["10"]) < 0.5
    return d


def test_demo_numpy_in_process(capsys):
    assert main(["demo", "--backends", "numpy", "--draws", "20000"]) == 0
    cap = capsys.readouterr()
    check_demo(cap.out, ["numpy"], 20000)
    assert "gumbelxp demo" in cap.err and "100%" in cap.err  # progress on stderr
    assert "%" not in cap.out.split("\n1. ")[0]


def test_demo_quiet_writes_nothing_to_stderr(capsys):
    assert main(["demo", "--backends", "numpy", "--draws", "1000", "-q"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_demo_rows_equal_across_all_selected_frameworks(capsys):
    names = selected_backends()
    assert main(["demo", "--backends", ",".join(names), "--draws", "20000", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    check_demo(out, names, 20000)
    if len(names) > 1:
        assert f"The {len(names)} frameworks agree to within float32 tolerance" in out


def test_demo_subprocess():
    r = subprocess.run([sys.executable, "-m", "gumbelxp", "demo", "--backends", "numpy",
                        "--draws", "20000"], capture_output=True, text=True, timeout=120,
                       cwd=ROOT / "tests")
    assert r.returncode == 0, r.stderr
    check_demo(r.stdout, ["numpy"], 20000)
    assert "100%" in r.stderr


@pytest.mark.slow
def test_demo_and_check_leak_no_warnings_or_native_logs():
    """TensorFlow's absl/oneDNN notices and JAX's float64 UserWarning stay
    out of stdout and stderr: stderr holds the progress lines only."""
    names = [b for b in ("tensorflow", "jax") if b in selected_backends()]
    if not names:
        pytest.skip("neither tensorflow nor jax is selected")
    for cmd in (["demo", "--draws", "1000"], ["check"]):
        r = subprocess.run([sys.executable, "-m", "gumbelxp", *cmd, "--backends",
                            ",".join(names)], capture_output=True, text=True, timeout=600,
                           cwd=ROOT / "tests")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not NATIVE_LOG.search(r.stdout + r.stderr), r.stderr
        assert "Warning" not in r.stdout + r.stderr, r.stderr
        assert all(ln.startswith(f"gumbelxp {cmd[0]}:") for ln in r.stderr.splitlines()), r.stderr


def test_unknown_backend_and_command():
    with pytest.raises(SystemExit):
        main(["demo", "--backends", "nosuchframework"])
    with pytest.raises(SystemExit):
        main(["nosuchcommand"])


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("x", [0.1, 1.0, 3.0, 7.8, 25.0])
def test_chi2_sf_matches_scipy(df, x):
    assert math.isclose(chi2_sf(x, df), stats.chi2.sf(x, df), rel_tol=1e-9, abs_tol=1e-15)


# ---------------------------------------------------------------------------
# demo --plot
# ---------------------------------------------------------------------------
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed (the 'plot' extra)")
def test_demo_plot_writes_a_png(tmp_path, capsys):
    png = tmp_path / "sweep.png"
    assert main(["demo", "--backends", "numpy", "--draws", "5000", "--plot", str(png),
                 "--no-gradients", "-q"]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    from matplotlib.image import imread

    h, w, _ = imread(png).shape
    assert w >= 1000 and h >= 500
    assert f"Drew the temperature sweep (no gradient panel: --no-gradients) into {png}" in (
        capsys.readouterr().out)


def _fake_gradient_records():
    out = []
    for pb in ("quadratic", "coupled"):
        for est in ("straight-through", "reinmax", "gumbel-rao/10"):
            for tau in (0.5, 1.0, 2.0):
                if est == "reinmax" and tau < 1:
                    continue
                out.append({"problem": pb, "estimator": est, "tau": tau, "samples": 100,
                            "cosine": 1 - 0.05 * tau, "variance": 0.3 / tau})
    return out


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed (the 'plot' extra)")
def test_plot_gradient_panel_reads_the_benchmark_records(tmp_path, monkeypatch, capsys):
    """With ``gumbelxp.conformance.bench.gradients.run`` present, the figure
    gains a row: cosine and variance against tau per problem."""
    import types

    fake = types.ModuleType(_plot.GRADIENTS_MODULE)
    fake.run = lambda progress=True: _fake_gradient_records()
    monkeypatch.setitem(sys.modules, _plot.GRADIENTS_MODULE, fake)
    records = _plot.gradient_records()
    assert records == _fake_gradient_records()
    data = _plot.sweep_data(draws=2000, simplex_samples=50)
    plain = _plot.draw(str(tmp_path / "a.png"), data)
    full = _plot.draw(str(tmp_path / "b.png"), data, records)
    assert len(full.axes) == len(plain.axes) + 4  # 2 problems x (cosine, variance)
    cos_ax = next(ax for ax in full.axes if ax.get_title() == "coupled")
    assert {ln.get_label() for ln in cos_ax.get_lines()} == {
        "straight-through", "reinmax", "gumbel-rao/10"}
    # the CLI picks the records up by itself
    png = tmp_path / "c.png"
    assert main(["demo", "--backends", "numpy", "--draws", "2000", "--plot", str(png),
                 "-q"]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "and the estimators' gradient quality" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed (the 'plot' extra)")
def test_plot_a_failing_gradient_benchmark_leaves_its_panel_out(tmp_path, monkeypatch, capsys):
    import types

    def broken(progress=True):
        raise RuntimeError("no autograd backend")

    fake = types.ModuleType(_plot.GRADIENTS_MODULE)
    fake.run = broken
    monkeypatch.setitem(sys.modules, _plot.GRADIENTS_MODULE, fake)
    png = tmp_path / "d.png"
    assert main(["demo", "--backends", "numpy", "--draws", "2000", "--plot", str(png)]) == 0
    cap = capsys.readouterr()
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "leaves its panel out: RuntimeError: no autograd backend" in cap.err
    assert "(no gradient panel: its benchmark failed, see above)" in cap.out


def test_plot_gradient_records_absent_is_none(monkeypatch):
    monkeypatch.setitem(sys.modules, _plot.GRADIENTS_MODULE, None)  # import fails
    assert _plot.gradient_records() is None


def test_demo_plot_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch, capsys):
    for mod in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, mod, None)  # import raises ImportError
    png = tmp_path / "x.png"
    assert main(["demo", "--backends", "numpy", "--plot", str(png)]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and 'pip install "gumbelxp[plot]"' in err
    assert not png.exists()


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------
def test_check_table_fits_100_columns_with_progress_on_stderr(capsys):
    assert main(["check", "--backends", "numpy,array_api_strict"]) == 0
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    assert max(len(ln) for ln in lines) <= 100, max(lines, key=len)
    heads = [ln for ln in lines if ln.startswith("backend dtype")]
    cols = [c for h in heads for c in h.split()[2:]]  # the table may wrap into blocks
    assert cols == ["bits", "uniform", "noise", "fwd_seed", "fwd_noise", "grad", "max",
                    "topk", "errors", "law", "family", "fam_grad"]
    row = next(ln for ln in lines if ln.startswith("numpy float32 "))
    assert row.split()[2:4] == ["1/1", "0"] and row.split()[7] == "-"  # no autograd
    assert "FAIL" not in cap.out.split("\n\n")[1] and "failures:" not in cap.out
    assert re.search(r"^\d+/\d+ checks passed on 2 backends", cap.out, re.M)
    assert "gumbelxp check:" in cap.err and "100%" in cap.err
    assert "Warning" not in cap.out + cap.err


def test_check_table_wraps_when_there_are_more_checks():
    rs = [C.Result(c, b, dt, "x", True, 1e-7)
          for b, dts in (("array_api_strict", ("float32", "float64")),
                         ("tensorflow", ("bfloat16", "float32")))
          for dt in dts for c in C.CHECKS + ("family", "fam_grad", "another", "one_more")]
    text = C.Table(rs).render()
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 100
    heads = [ln for ln in lines if ln.startswith("backend dtype")]
    assert len(heads) == 2  # wrapped into two blocks, the row labels repeated
    assert all(c in text for c in C.CHECKS + ("family", "one_more"))
    assert sum(ln.startswith("tensorflow bfloat16") for ln in lines) == 2


def test_check_exits_1_on_a_failure_and_lists_it(monkeypatch, capsys):
    def failing_law(backend, dtype):
        return C.Result("law", backend, dtype, "native+portable", False, 1e-9, "p",
                        "smallest p-value: portable bins")

    monkeypatch.setattr(C, "check_law", failing_law)
    assert main(["check", "--backends", "numpy", "-v", "-q"]) == 1
    cap = capsys.readouterr()
    assert "FAIL" in cap.out and "failures:" in cap.out
    assert "numpy-float32-law-native+portable: smallest p-value: portable bins" in cap.out
    assert "time per backend:" in cap.out and cap.err == ""


def test_check_names_a_backend_that_cannot_run(capsys):
    assert C.main(argparse.Namespace(backends="numpy,nosuch", verbose=False, quiet=True)) == 1
    assert "not run: nosuch: unknown backend" in capsys.readouterr().out


@pytest.mark.slow
def test_check_records_the_warnings_it_provokes(capsys):
    """JAX without x64 warns when the checks ask it for float64: recorded,
    listed by -v, never printed raw."""
    if "jax" not in selected_backends():
        pytest.skip("jax is not selected")
    import jax

    if jax.config.jax_enable_x64:
        pytest.skip("jax_enable_x64 is on: no float64 warning to provoke")
    assert main(["check", "--backends", "jax", "-v"]) == 0
    cap = capsys.readouterr()
    assert "UserWarning: Explicitly requested dtype float64" in cap.out
    assert "warnings raised while checking" in cap.out
    assert "Warning" not in cap.err
    assert max(len(ln) for ln in cap.out.split("\ntime per backend:")[0].splitlines()) <= 100


# ---------------------------------------------------------------------------
# --help
# ---------------------------------------------------------------------------
def _subparsers(ap):
    act = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return act.choices


def test_every_option_of_every_command_has_help():
    ap = build_parser()
    subs = _subparsers(ap)
    assert set(subs) == {"info", "demo", "check", "bench"}
    for name, p in {"gumbelxp": ap, **subs}.items():
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                continue
            assert a.help and a.help != argparse.SUPPRESS and len(a.help) > 10, (name, a.dest)
    for name, p in subs.items():
        assert p.description, name
    text = subs["bench"].format_help()
    for opt in ("--dask", "--json", "--repeats", "--shapes", "--modes", "--no-memory"):
        assert opt in text


@pytest.mark.parametrize("cmd", ["info", "demo", "check", "bench"])
def test_help_runs(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: gumbelxp " + cmd in capsys.readouterr().out
