"""The typed records: the runner's JSON read once, every field checked, and the same
records written to and read back from the store (issue 12, item 6)."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import sqlite3

import numpy as np
import pytest
from bgnn_deploy.targets.execute import RunnerError, read_outputs, run_runner

from bgnn_deploy.results import ResultsStore
from bgnn_deploy.results.records import (
    Energy,
    Measurement,
    RecordError,
    RunnerResult,
    RunReport,
    StoredRun,
)


def test_the_runner_json_reads_back_field_for_field(runner_json):
    result = RunnerResult.parse(runner_json)
    assert result.latency.median == 0.6 and result.latency.runs == 3
    assert result.outputs[0].shape == (1, 4) and result.ops["LceBconv2d"].calls_per_run == 4
    assert result.ops["builtin (LiteRT)"].calls_per_run is None
    assert result.timed_window_boottime_s == (100.25, 100.5)
    # nothing lost; the additions are derived: the coefficient of variation, the timed time
    lat = runner_json["latency_ms"]
    assert result.to_dict() == {
        **runner_json,
        "latency_ms": {**lat, "cv": lat["std"] / lat["mean"]},
        "timed_s": 0.25,
    }


def _set(obj: dict, path: str, value) -> dict:
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        ("latency_ms.median", KeyError, "latency_ms.median is missing"),
        ("latency_ms.runs", 2.5, "latency_ms.runs is float, expected an integer"),
        ("latency_ms.min", float("nan"), "latency_ms.min is float, expected a finite number"),
        ("latency_ms", [0.6], "latency_ms is list, expected an object"),
        ("runtime", KeyError, "runtime is missing"),
        ("runs_ms", [0.5, "x"], "runs_ms.1 is str, expected a number"),
        ("emulated", "no", "emulated is str, expected true or false"),
        ("peak_rss_kb", 9.5, "peak_rss_kb is float, expected an integer"),
        ("timed_window_boottime_s", [1.0], "timed_window_boottime_s has 1 numbers, not 2"),
        ("ops.LceBconv2d", 3, "ops.LceBconv2d is int, expected an object"),
        ("ops.LceBconv2d", {"calls_per_run": 4}, "ops.LceBconv2d.ms_per_run is missing"),
        (
            "outputs",
            [{"name": "logits", "type": 1, "bytes": 16, "shape": "1x4"}],
            "outputs[0].shape is str, expected a list of integers",
        ),
        ("outputs", [{"name": "logits", "type": 1, "bytes": 16}], "outputs[0].shape is missing"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(runner_json, path, value, said):
    with pytest.raises(RecordError) as err:
        RunnerResult.parse(_set(runner_json, path, value), where="W")
    assert str(err.value) == f"W: {said}"


def test_a_runner_that_cannot_read_its_peak_memory_has_none(runner_json):
    result = RunnerResult.parse(_set(runner_json, "peak_rss_kb", -1))
    assert result.peak_rss_kb is None and "peak_rss_kb" not in result.to_dict()


def test_run_runner_returns_the_parsed_result(fake_runner, runner_json, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model")
    noisy = f"bgnn-runner: starting\n{{not json\n{json.dumps(runner_json)}"
    result = run_runner(fake_runner(noisy), model, num_runs=3)
    assert result == dataclasses.replace(
        RunnerResult.parse(runner_json), runtime_package="ai-edge-litert 0.0-test"
    )
    assert result.runtime_label == "tflite (ai-edge-litert 0.0-test, TFLite 2.20.0)"


@pytest.mark.parametrize(
    ("stdout", "said"),
    [
        ({"runtime": "2.20.0", "arch": "x86_64"}, "latency_ms is missing"),
        ("all good", "exited 0 but printed no result; it said: all good"),
        ("[1, 2]", "exited 0 but printed no result"),
    ],
)
def test_a_result_that_cannot_be_read_is_a_runner_error(fake_runner, tmp_path, stdout, said):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model")
    with pytest.raises(RunnerError) as err:
        run_runner(fake_runner(stdout), model, num_runs=1)
    assert said in str(err.value) and err.value.exit_code == 3 and "bug" in err.value.hint


def test_run_with_an_unreadable_result_is_one_error_line(cli, fake_runner, tmp_path, monkeypatch):
    import bgnn_deploy.targets.run as run_module

    build = fake_runner({"runtime": "2.20.0", "arch": "x86_64", "latency_ms": {"min": "0"}})
    monkeypatch.setattr(run_module, "build_runner", lambda target: build)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"model")
    db = tmp_path / "r.sqlite"
    result = cli("run", model, "--target", "local", "--db", db)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: the runner's JSON on local: latency_ms.min is str")
    assert result.stderr.count("error: ") == 1 and "Traceback" not in result.output
    assert ResultsStore(db).list_runs() == []


def _measurement(runner_json, **extra) -> dict:
    fields = {"role": "binary", "model": "/m/b.tflite", "model_sha256": "a" * 64, "threads": 1}
    return {**runner_json, **fields, **extra}


def test_a_run_report_round_trips_through_the_store(runner_json, tmp_path):
    energy = {
        "available": True,
        "energy_per_inference_mj": 1.5,
        "active_power_w": 4.0,
        "idle_power_w": 3.0,
        "sampling_rate_hz": 100.0,
        "samples": 300,
        "window_s": 3.0,
        "source": "INA3221 VDD_IN",
    }
    report = RunReport(
        "board",
        emulated=False,
        results=[
            Measurement.from_dict(_measurement(runner_json, energy=energy), where="t", target="b"),
            Measurement.from_dict(
                _measurement(runner_json, role="float", energy={"available": False, "reason": "r"}),
                where="t",
                target="b",
            ),
        ],
        speedup={"1": 2.0},
        facts={"arch": "aarch64"},
    )
    assert report.results[0].energy == Energy(**energy) and report.results[0].energy.mj == 1.5
    assert report.results[1].energy.mj is None and report.results[1].energy.reason == "r"
    store = ResultsStore(tmp_path / "r.sqlite")
    run_id = store.add_run(report, flags={"num_runs": 3})
    stored = store.get_run(run_id)
    assert stored.report.results == report.results and stored.report.speedup == report.speedup
    assert stored.report.facts == report.facts and stored.run_id == run_id
    assert StoredRun.from_dict(stored.to_dict(), where="again") == stored
    listed = store.measurements()
    assert [m["energy_per_inference_mj"] for m in listed] == [1.5, None]


def test_a_run_stored_by_an_earlier_version_reads(tmp_path):
    """Runs stored before runs_ms, isa, the op profile and per-measurement targets."""
    old = {
        "target": "rpi4",
        "emulated": False,
        "speedup": 1.7,
        "energy": None,
        "created": "2026-10-01T12:00:00+00:00",
        "results": [
            {
                "role": "binary",
                "model": "/m/b.tflite",
                "model_sha256": "a" * 64,
                "threads": 1,
                "runtime": "2.16",
                "arch": "aarch64",
                "peak_rss_kb": 4000,
                "latency_ms": {"min": 1, "median": 2, "mean": 2, "p90": 3, "max": 4, "runs": 5},
            }
        ],
    }
    run = StoredRun.from_dict(old, where="old run")
    (m,) = run.report.results
    assert m.target == "rpi4" and m.result.runs_ms == () and m.result.isa is None
    assert run.created.tzinfo is not None and run.report.speedup == {}


def test_a_damaged_stored_run_is_one_error_line(cli, user_error, runner_json, tmp_path):
    db = tmp_path / "r.sqlite"
    store = ResultsStore(db)
    measurement = Measurement.from_dict(_measurement(runner_json), where="t", target="board")
    run_id = store.add_run(RunReport("board", False, results=[measurement]), flags={})
    store.close()
    raw = sqlite3.connect(db)
    stored = json.loads(raw.execute("SELECT report FROM runs").fetchone()[0])
    stored["results"][0]["latency_ms"]["median"] = "fast"
    with raw:
        raw.execute("UPDATE runs SET report = ?", (json.dumps(stored),))
    raw.close()
    said = f"run {run_id} in {db}, results[0]: latency_ms.median is str, expected a number"
    user_error(cli("results", "show", run_id, "--db", db), said)
    user_error(cli("report", "-o", tmp_path / "rep", "--db", db), said)


def test_an_output_file_shorter_than_its_shapes_is_named(runner_json, tmp_path):
    result = RunnerResult.parse(runner_json)  # one float32 [1, 4] output: 16 bytes
    path = tmp_path / "out.raw"
    path.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    np.testing.assert_array_equal(read_outputs(result, path)[0], [[0, 1, 2, 3]])
    path.write_bytes(b"\0" * 8)
    with pytest.raises(RunnerError, match=r"output logits: the runner wrote 8 bytes for \[1, 4\]"):
        read_outputs(result, path)


def test_stability_and_the_speedup_interval():
    from bgnn_deploy.results.stats import speedup_ci, stability

    assert stability(0.02, 50) == (True, "CV 2.0%")
    assert stability(0.3, 50)[0] is False and "re-run on a quiet board" in stability(0.3, 50)[1]
    assert stability(0.0, 3) == (False, "too few runs to judge (3 < 5)")
    rng = np.random.default_rng(1)
    fast, slow = rng.normal(2.0, 0.05, 200), rng.normal(10.0, 0.2, 200)
    lo, hi = speedup_ci([slow], [fast])
    assert lo < np.median(slow) / np.median(fast) < hi and hi - lo < 0.3
    noisy = np.concatenate([fast, rng.normal(6.0, 2.0, 40)])  # a busy stretch
    lo2, hi2 = speedup_ci([slow], [noisy])
    assert hi2 - lo2 > hi - lo  # a noisier side widens the interval
    assert speedup_ci([slow[:4]], [fast]) is None


def test_drift_between_rounds_widens_the_interval():
    """The bootstrap resamples rounds too: rounds that disagree (the board slowed down
    for a while) give a wider interval than the same runs without the drift."""
    from bgnn_deploy.results.stats import rounds_agree, speedup_ci

    rng = np.random.default_rng(2)
    steady = [rng.normal(2.0, 0.04, 40) for _ in range(5)]
    slow = [rng.normal(10.0, 0.2, 40) for _ in range(5)]
    drifting = [r * f for r, f in zip(steady, (1.0, 1.0, 1.6, 1.6, 1.0), strict=True)]
    lo, hi = speedup_ci(slow, steady)
    lo2, hi2 = speedup_ci(slow, drifting)
    assert hi2 - lo2 > 3 * (hi - lo)
    ratios = [np.median(s) / np.median(f) for s, f in zip(slow, drifting, strict=True)]
    stable, why = rounds_agree(ratios)
    assert not stable and "the rounds disagree" in why and "re-run on a quiet board" in why
    assert rounds_agree([np.median(s) / np.median(f) for s, f in zip(slow, steady, strict=True)])[0]
    assert rounds_agree([5.0, 9.0]) == (True, "2 round(s): not compared")


@pytest.mark.parametrize("n", [1, 5, 9, 10, 19, 20, 99, 100, 250])
def test_percentiles_only_from_enough_runs(n):
    """The statistics against Python's statistics module; a percentile from fewer runs
    than it needs is left out rather than printed as a tail."""
    import statistics

    from bgnn_deploy.results.records import Latency

    runs = list(np.random.default_rng(n).gamma(4.0, 0.5, n))
    lat = Latency.from_samples(runs)
    assert lat.runs == n and lat.min == min(runs) and lat.max == max(runs)
    assert lat.median == pytest.approx(statistics.median(runs))
    assert lat.mean == pytest.approx(statistics.fmean(runs))
    assert lat.std == pytest.approx(statistics.stdev(runs) if n > 1 else 0.0)
    for name, needed, q in (("p90", 10, 90), ("p95", 20, 95), ("p99", 100, 99)):
        value = getattr(lat, name)
        if n < needed:
            assert value is None
        else:  # inclusive quantiles interpolate between order statistics, as the runner does
            cuts = statistics.quantiles(runs, n=100, method="inclusive")
            assert value == pytest.approx(cuts[q - 1])


def test_a_per_node_profile_reads_back_field_for_field(profiled_runner_json):
    result = RunnerResult.parse(profiled_runner_json)
    assert [(n.index, n.op, n.delegate_kernel) for n in result.nodes] == [
        (0, "CONV_2D", None),
        (1, "LceBconv2d", None),
        (0, "Fully Connected (NC, F32) GEMM", 0),
    ]
    assert result.nodes[1].ms_per_run == 0.25 and result.nodes[1].calls_per_run == 1.0
    assert result.profile.source == "litert-profiler" and result.profile.unavailable is None
    assert result.to_dict()["nodes"] == profiled_runner_json["nodes"]
    assert RunnerResult.parse(result.to_dict()) == result


def test_a_profile_without_nodes_says_why(runner_json):
    why = "this LiteRt library exports no profiler"
    result = RunnerResult.parse(
        {**runner_json, "profile": {"source": "runner", "unavailable": why}}
    )
    assert result.nodes == () and result.profile.unavailable == why
    assert RunnerResult.parse(runner_json).profile is None  # a runner from before profiles


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"nodes": {"0": {}}}, "nodes is dict, expected a list"),
        ({"nodes": [3]}, "nodes[0] is int, expected an object"),
        (
            {"nodes": [{"op": "ADD", "ms_per_run": 1, "calls_per_run": 1}]},
            "nodes[0].index is missing",
        ),
        (
            {"nodes": [{"index": "2", "op": "ADD", "ms_per_run": 1, "calls_per_run": 1}]},
            "nodes[0].index is str, expected an integer",
        ),
        (
            {"nodes": [{"index": 2, "op": "ADD", "ms_per_run": "1", "calls_per_run": 1}]},
            "nodes[0].ms_per_run is str, expected a number",
        ),
        (
            {"nodes": [{"index": 2, "op": 7, "ms_per_run": 1, "calls_per_run": 1}]},
            "nodes[0].op is int, expected a string",
        ),
        (
            {"nodes": [{"index": 2, "op": "ADD", "ms_per_run": -1, "calls_per_run": 1}]},
            "nodes[0] has a negative time or count",
        ),
        (
            {
                "nodes": [
                    {
                        "index": 2,
                        "op": "ADD",
                        "ms_per_run": 1,
                        "calls_per_run": 1,
                        "delegate_kernel": 0.5,
                    }
                ]
            },
            "nodes[0].delegate_kernel is float, expected an integer",
        ),
        ({"profile": "litert"}, "profile is str, expected an object"),
        ({"profile": {"unavailable": "x"}}, "profile.source is missing"),
    ],
)
def test_a_bad_per_node_profile_is_named(profiled_runner_json, change, said):
    with pytest.raises(RecordError, match=re.escape(said)):
        RunnerResult.parse({**profiled_runner_json, **change})
