"""The benchmark code and ``gumbelxp bench``: tiny shapes, one round, no
timing asserts (the numbers depend on the machine); what is asserted is what
the user reads."""

import json
import math

import pytest
from gumbelxp.conformance.bench import speed
from gumbelxp.conformance.bench.speed import MODES, format_table, run
from gumbelxp.conformance.support import selected_backends

from gumbelxp._cli import main

KEYS = {"backend", "variant", "dtype", "shape", "mode", "reference", "gumbelxp_us",
        "reference_us", "ratio", "overhead_us", "gumbelxp_spread", "reference_spread",
        "gumbelxp_mem_x", "reference_mem_x", "gumbelxp_mem_bytes", "reference_mem_bytes",
        "memory_method", "memory_note", "portable_ratio"}
#: what each framework's reference is called in the output
REFERENCES = {
    "numpy": {"hand-written NumPy (in place)", "-log(-log(rng.random())) + softmax"},
    "torch": {"torch.nn.functional.gumbel_softmax"},
    "jax": {"jax.random.gumbel + jax.nn.softmax"},
    "tensorflow": {"-log(-log(gen.uniform())) + tf.nn.softmax"},
}


def _two_backends():
    return [b for b in selected_backends() if b in ("numpy", "torch")] or ["numpy"]


def test_bench_records_structure():
    backends = _two_backends()
    records = run(backends=backends, shapes=[(2, 3)], repeats=1, memory=False)
    assert records
    for r in records:
        assert set(r) == KEYS
        assert r["shape"] == (2, 3) and r["mode"] in MODES
        assert r["reference"] in REFERENCES[r["backend"]]
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0
        # the PortableRNG column: the same call with gx.PortableRNG, same rounds
        assert math.isfinite(r["portable_ratio"]) and r["portable_ratio"] > 0
        assert r["gumbelxp_us"] > 0 and r["reference_us"] > 0
        assert r["gumbelxp_spread"] == 0 == r["reference_spread"]  # one round
        assert r["gumbelxp_mem_x"] is None and "--no-memory" in r["memory_note"]
    text = format_table(records, repeats=1)
    assert "Time: gumbelxp / reference, median of 1 rounds" in text
    assert "goal" not in text and "met" not in text.split() and "seeds" not in text
    assert "Memory: not measured: not measured (memory=False, --no-memory)." in text
    for r in records:
        assert r["reference"] in text
    assert "PortableRNG: gumbelxp with gx.PortableRNG(0)" in text


def test_bench_memory_shown_where_measured_and_why_not_elsewhere():
    backends = _two_backends()
    records = run(backends=backends, shapes=[(2, 3)], modes=["soft"], repeats=2)
    numpy = [r for r in records if r["backend"] == "numpy"]
    assert numpy and all(r["memory_method"] == "tracemalloc" and r["memory_note"] is None
                         and r["gumbelxp_mem_bytes"] > 0 for r in numpy)
    text = format_table(records)
    assert "Memory: peak extra memory of one call" in text
    assert "Measured with tracemalloc (numpy)" in text and "n/a" not in text
    if "torch" in backends:  # 6 elements: too few for the resident set size
        torch_rs = [r for r in records if r["backend"] == "torch"]
        assert all(r["gumbelxp_mem_x"] is None and "below 262,144 elements" in r["memory_note"]
                   for r in torch_rs)
        assert "-: not measured: below 262,144 elements" in text


def _rec(shape, spread, backend="numpy", mode="soft"):
    return {"backend": backend, "dtype": "float32", "shape": shape, "mode": mode,
            "gumbelxp_spread": spread, "reference_spread": 0.01}


def test_busy_cases_and_the_warning(capsys):
    records = [_rec((256, 1000), 0.1), _rec((256, 1000), 0.45, mode="hard"),
               _rec((8, 16), 0.45), _rec((8, 16), 0.9, backend="torch")]
    busy = speed.busy_cases(records)
    # small shapes jitter more: their threshold is doubled
    assert [label for label, _ in busy] == ["torch float32 8x16 soft",
                                            "numpy float32 256x1000 hard"]
    assert speed.warn_if_busy(records) is True
    err = capsys.readouterr().err
    assert err.startswith("warning: the machine looks busy: in 2 cases")
    assert "torch float32 8x16 soft (90%)" in err and "numpy float32 256x1000 hard (45%)" in err
    assert speed.warn_if_busy(records[:1]) is False
    assert capsys.readouterr().err == ""


def test_spread():
    assert speed.spread([1.0]) == 0
    assert speed.spread([1.0, 2.0, 1.5]) == pytest.approx(1 / 1.5)


def test_bench_cli_json_progress_and_no_dask_by_default(capsys):
    assert main(["bench", "--backends", "numpy", "--shapes", "2x3", "--modes", "soft",
                 "--repeats", "1", "--no-memory", "--json"]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["dask"] is None and out["machine"]
    assert {r["reference"] for r in out["records"]} == REFERENCES["numpy"]
    assert all(r["backend"] == "numpy" and r["mode"] == "soft" for r in out["records"])
    assert "gumbelxp bench:" in cap.err and "100%" in cap.err  # the progress bar


def test_bench_cli_text(capsys):
    assert main(["bench", "--backends", "numpy", "--shapes", "2x3,64x64", "--modes", "soft",
                 "--repeats", "1", "-q"]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""
    out = cap.out
    assert out.startswith("gumbelxp bench on ")
    assert "numpy float32, eager" in out and "2x3" in out and "64x64" in out
    assert "On 2x3: the time gumbelxp adds per call" in out
    assert "The Dask cluster case is off; --dask 1e8 runs it" not in out  # dask not selected
    assert "goal" not in out and " met " not in out


def test_bench_cli_dask_is_opt_in(capsys):
    if "dask" not in selected_backends():
        pytest.skip("dask is not installed or not selected")
    assert main(["bench", "--backends", "dask", "-q"]) == 0
    out = capsys.readouterr().out
    assert "The Dask cluster case is off; --dask 1e8 runs it" in out


@pytest.mark.slow
def test_bench_cli_includes_the_dask_cluster_case(capsys):
    if "dask" not in selected_backends():
        pytest.skip("dask is not installed or not selected")
    assert main(["bench", "--backends", "dask", "--json", "--dask", "40000"]) == 0
    rec = json.loads(capsys.readouterr().out)["dask"]
    assert rec["draws"] == 40000 and rec["workers"] == 2
    assert rec["draws_per_s"] > 0 and rec["max_freq_error"] < 0.02


def test_bench_cli_unknown_backend():
    with pytest.raises(SystemExit, match="unknown backend 'nosuch'"):
        main(["bench", "--backends", "numpy,nosuch", "-q"])


def test_bench_cli_dask_without_dask_is_a_clear_error(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    assert main(["bench", "--backends", "numpy", "--dask", "1e6", "-q"]) == 2
    assert 'pip install "gumbelxp[dask]"' in capsys.readouterr().err
