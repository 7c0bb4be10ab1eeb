"""Smoke test of the benchmark code: one tiny shape, one round, no timing asserts."""

import math

from gumbelxp.conformance.bench.speed import MODES, format_table, run
from gumbelxp.conformance.support import selected_backends

KEYS = {"backend", "variant", "dtype", "shape", "mode", "reference", "gumbelxp_us",
        "reference_us", "ratio", "overhead_us", "goal", "met", "gumbelxp_mem_x",
        "reference_mem_x", "gumbelxp_mem_bytes", "reference_mem_bytes"}


def test_bench_records_structure():
    backends = [b for b in selected_backends() if b in ("numpy", "torch")] or ["numpy"]
    records = run(backends=backends, shapes=[(2, 3)], repeats=1, memory=False)
    assert records
    for r in records:
        assert set(r) == KEYS
        assert r["shape"] == (2, 3) and r["mode"] in MODES
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0
        assert r["gumbelxp_us"] > 0 and r["reference_us"] > 0
    assert "| ratio |" in format_table(records)


def test_bench_cli_json(capsys):
    """``gumbelxp bench --json`` prints the machine and one record per case."""
    import json

    from gumbelxp._cli import main

    assert main(["bench", "--backends", "numpy", "--shapes", "2x3", "--modes", "soft",
                 "--repeats", "1", "--no-memory", "--json", "--dask-draws", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dask"] is None and out["machine"]
    assert {r["reference"] for r in out["records"]} == {"numpy in-place", "seeds' recipe"}
    assert all(r["backend"] == "numpy" and r["mode"] == "soft" for r in out["records"])


def test_bench_cli_includes_the_dask_cluster_case(capsys):
    import pytest

    if "dask" not in selected_backends():
        pytest.skip("dask is not installed or not selected")
    import json

    from gumbelxp._cli import main

    assert main(["bench", "--backends", "dask", "--json", "--dask-draws", "40000"]) == 0
    rec = json.loads(capsys.readouterr().out)["dask"]
    assert rec["draws"] == 40000 and rec["workers"] == 2
    assert rec["draws_per_s"] > 0 and rec["max_freq_error"] < 0.02
