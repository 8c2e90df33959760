"""The results store: schema, atomic appends, queries, and the `results` commands."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3

import pytest

from bgnn_deploy.errors import BgnnDeployError, ConfigError
from bgnn_deploy.results import ResultsStore
from bgnn_deploy.results.records import Latency, Measurement, RunnerResult, RunReport
from bgnn_deploy.results.store import SCHEMA_VERSION


def report(
    target="board",
    median=(10.0, 20.0),
    sha=("a" * 64, "b" * 64),
    facts=None,
    api="tflite-c",
    cv=0.02,
):
    results = []
    for role, ms, digest in zip(("binary", "float"), median, sha, strict=True):
        latency = Latency(
            min=ms * 0.9, median=ms, mean=ms, p90=ms * 1.1, max=ms * 1.2, runs=5, std=ms * cv
        )
        result = RunnerResult(
            runtime="rt",
            arch="aarch64",
            latency=latency,
            peak_rss_kb=2048,
            runtime_api=api,
            runtime_package=f"pkg-{api}",
        )
        results.append(
            Measurement(result, role, f"/m/{role}.tflite", digest, threads=1, target=target)
        )
    return RunReport(
        target,
        emulated=False,
        results=results,
        speedup={"1": median[1] / median[0]},
        facts=facts or {},
    )


def store_run(db, run) -> str:
    store = ResultsStore(db)
    try:
        return store.add_run(run, flags={})
    finally:
        store.close()


def test_new_store_has_the_current_schema(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.list_runs() == []


def test_newer_schema_and_garbage_files_are_refused(tmp_path):
    newer = tmp_path / "newer.sqlite"
    db = sqlite3.connect(newer)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(BgnnDeployError, match="schema version 99"):
        ResultsStore(newer)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BgnnDeployError, match="not a usable results database"):
        ResultsStore(garbage)


def test_a_database_with_a_damaged_page_is_one_error_line(cli, user_error, tmp_path):
    path = tmp_path / "r.sqlite"
    store = ResultsStore(path)
    for _ in range(40):  # enough rows for several pages
        store.add_run(report(facts={"cpu": "x" * 200}), flags={})
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096 * 2
    data[page : page + 512] = b"\xde\xad" * 256
    path.write_bytes(bytes(data))
    with pytest.raises(BgnnDeployError, match="not a usable results database") as err:
        ResultsStore(path)
    assert "mv " in err.value.hint
    for args in (("results", "list"), ("results", "export"), ("report", "-o", tmp_path / "r")):
        user_error(cli(*args, "--db", path), "not a usable results database")
    assert path.read_bytes() == bytes(data)  # nothing of theirs touched


def test_runs_are_appended_never_overwritten(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    first = report(facts={"arch": "aarch64"})
    a = store.add_run(first, flags={"num_runs": 5})
    b = store.add_run(report(median=(8.0, 20.0), facts={"arch": "aarch64"}), flags={})
    assert a != b and first.run_id is None  # the caller's report is left as it was
    runs = store.list_runs()
    assert [r["run_id"] for r in runs] == [a, b]
    assert runs[0]["latency_ms_median"] == 10.0 and runs[1]["speedup"] == pytest.approx(2.5)
    shown = store.get_run(a)
    assert shown.report.facts == {"arch": "aarch64"} and shown.flags == {"num_runs": 5}
    assert shown.run_id == a and shown.report.results == first.results  # the same records
    rows = store.compare(a, b)
    binary = next(r for r in rows if r["role"] == "binary")
    assert binary["b_over_a"] == pytest.approx(0.8) and binary["same_model"]
    assert len(store.measurements()) == 4


def test_an_interrupted_append_leaves_nothing(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    broken = report()
    # the second measurement cannot be written (measurements.model is NOT NULL)
    broken.results[1] = dataclasses.replace(broken.results[1], model=None)
    with pytest.raises(BgnnDeployError):
        store.add_run(broken, flags={})
    assert store.list_runs() == [] and store.measurements() == []


def test_unknown_run(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(ConfigError, match="no run 'nope'"):
        store.get_run("nope")


def test_results_cli(cli, tmp_path):
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    a = store.add_run(report(), flags={})
    b = store.add_run(report(target="other"), flags={})
    store.close()
    listed = json.loads(cli("results", "list", "--db", db, "--json").stdout)
    assert [(r["run_id"], r["target"]) for r in listed] == [(a, "board"), (b, "other")]
    assert set(listed[0]) >= {"run_id", "target", "model", "created", "latency_ms_median"}
    shown = cli("results", "show", a, "--db", db)
    assert shown.exit_code == 0, shown.output
    latency = shown.stdout.split("latency, ms")[1].splitlines()
    assert latency[2].split()[:4] == ["binary", "1", str(report().results[0].samples), "10.00"]
    assert "target facts" in shown.stdout and not shown.stdout.lstrip().startswith("{")
    as_json = json.loads(cli("results", "show", a, "--db", db, "--json").stdout)
    assert as_json["run_id"] == a and as_json["results"][0]["latency_ms"]["median"] == 10.0
    compared = json.loads(cli("results", "compare", a, b, "--db", db, "--json").stdout)
    assert {r["role"] for r in compared} == {"binary", "float"}
    rows = list(csv.DictReader(io.StringIO(cli("results", "export", "--csv", "--db", db).stdout)))
    assert len(rows) == 4 and rows[0]["latency_ms_median"] == "10.0"
    missing = cli("results", "show", "nope", "--db", db)
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no run 'nope'")


def test_results_views_fit_80_columns(cli, tmp_path, monkeypatch):
    """Short ids (their ends work in show and compare), times to the minute, model names
    that tell files apart, both medians, ratios with x, emulated marked; nothing cut."""
    monkeypatch.setenv("COLUMNS", "80")
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    a = store.add_run(report(), flags={})
    emulated = dataclasses.replace(report(target="qemu-aarch64", median=(8.0, 20.0)))
    emulated.emulated = True
    b = store.add_run(emulated, flags={})
    store.close()
    listed = cli("results", "list", "--db", db)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in listed.stdout
    assert a[-6:] in listed.stdout and b[-6:] in listed.stdout
    assert " m " in listed.stdout and "10.00" in listed.stdout  # binary.tflite in m/
    assert "20.00" in listed.stdout and "2.50x" in listed.stdout
    assert "qemu-aarch64*" in listed.stdout and "* emulated" in listed.stdout
    assert "!" not in listed.stdout  # both stable
    noisy = store_run(db, report(target="busy", median=(10.0, 30.0), cv=0.3))
    listed = cli("results", "list", "--db", db).stdout
    [row] = [line for line in listed.splitlines() if line.startswith(noisy[-6:])]
    assert row.endswith("3.00x!") and "! unstable: re-run on a quiet board" in listed
    assert max(len(line) for line in listed.splitlines()) <= 80
    shown = cli("results", "show", b[-6:], "--db", db)
    assert shown.exit_code == 0 and b in shown.stdout and "EMULATED" in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    compared = cli("results", "compare", a[-6:], b[-6:], "--db", db)
    assert compared.exit_code == 0 and "0.80x" in compared.stdout and "2.0" in compared.stdout
    assert max(len(line) for line in compared.stdout.splitlines()) <= 80
    assert "warning" not in compared.stdout  # one runtime
    c = store_run(db, report(target="local", api="litert"))
    mixed = cli("results", "compare", a[-6:], c[-6:], "--db", db)
    said = " ".join(mixed.stdout.split())  # wrapped at 80 columns
    assert "warning: A and B ran on different runtimes" in said
    assert "litert (pkg-litert)" in said and "tflite-c (pkg-tflite-c)" in said
