"""What `run --json` says about how far its figures can be trusted (issue 14 interface):
CV, throughput, samples and a stability verdict per model, a speedup interval, a
minimum measuring time, and an emulated target's own facts."""

from __future__ import annotations

import json
import platform

import pytest


def _run(cli, model, *args):
    result = cli("run", model, *map(str, args), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_result_says_how_stable_it_is(cli, converted):
    report = _run(cli, converted / "builtin" / "binary.tflite", "--target", "local",
                  "--num-runs", "30", "--min-secs", "0")  # fmt: skip
    for r in report["results"]:
        lat, runs = r["latency_ms"], r["runs_ms"]
        assert r["samples"] == lat["runs"] == len(runs) == 30
        assert lat["cv"] == pytest.approx(lat["std"] / lat["mean"])
        assert r["throughput_per_s"] == pytest.approx(1000 / lat["mean"])
        assert r["stable"] is (lat["cv"] <= 0.10)
    lo, hi = report["speedup_ci"]
    assert lo <= report["speedup"] <= hi


def test_min_secs_keeps_measuring(cli, converted):
    report = _run(cli, converted / "builtin" / "binary.tflite", "--target", "local",
                  "--num-runs", "1", "--min-secs", "0.4")  # fmt: skip
    for r in report["results"]:
        assert r["timed_s"] >= 0.4 - 1e-3 and r["samples"] > 1
        assert r["timed_s"] == pytest.approx(sum(x["timed_s"] for x in r["rounds"]))


def test_an_emulated_target_reports_the_guest_and_the_emulator(cli, converted):
    report = _run(cli, converted / "builtin" / "binary.tflite", "--target", "qemu-aarch64",
                  "--num-runs", "1", "--min-secs", "0", "--no-store")  # fmt: skip
    facts = report["facts"]
    assert facts["arch"] == "aarch64" and facts["cpu"] is None
    name, version = facts["emulator"].split(" ")
    assert name == "qemu-aarch64" and version[0].isdigit()
    assert facts["host_arch"] == platform.machine()


def test_benchmark_model_spellings_are_accepted(cli, converted):
    """For scripts written against LiteRT's benchmark_model."""
    report = _run(cli, converted / "builtin" / "binary.tflite", "--target", "local",
                  "--num_runs", "6", "--warmup_runs", "0", "--num_threads", "1",
                  "--min_secs", "0", "--enable_op_profiling")  # fmt: skip
    assert [r["samples"] for r in report["results"]] == [6, 6]
    assert all(r["ops"] for r in report["results"])


def test_a_run_on_a_loaded_cpu_is_flagged(cli, converted, cpu_load):
    """The noise the issue saw on a busy machine: with every core loaded in bursts, the run
    says its figures are unstable and advises a quiet board, in the JSON and the terminal."""
    with cpu_load():
        shown = cli("run", converted / "builtin" / "binary.tflite", "--target", "local",
                    "--num-runs", "50", "--min-secs", "1", "--no-store")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "unstable:" in shown.stdout and "re-run on a quiet board" in shown.stdout
    with cpu_load():
        report = _run(cli, converted / "builtin" / "binary.tflite", "--target", "local",
                      "--num-runs", "50", "--min-secs", "1", "--no-store")  # fmt: skip
    flagged = [r for r in report["results"] if not r["stable"]]
    assert flagged or report["speedup_stable"] is False, [
        (r["role"], r["latency_ms"]["cv"]) for r in report["results"]
    ]
