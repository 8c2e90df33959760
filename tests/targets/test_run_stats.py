"""What `run --json` says about how far its figures can be trusted (issue 14 interface):
CV, throughput, samples and a stability verdict per model, a speedup interval, a
minimum measuring time, and an emulated target's own facts."""

from __future__ import annotations

import json
import platform

import numpy as np
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


def _fake_rounds(monkeypatch, tmp_path, fail_at: int | None = None):
    """`run_models` on the local target with a stand-in runner: binary runs take 2 ms,
    float 10 ms (each run 1% slower than the one before); returns (the models, the log of
    invocations). The ``fail_at``-th invocation fails as a crashed runner would."""
    import types

    import bgnn_deploy.targets.run as run_module
    from bgnn_deploy.targets.execute import RunnerError
    from bgnn_deploy.targets.profiles import get_target

    from bgnn_deploy.results.records import Latency, RunnerResult

    folder = tmp_path / "converted"
    folder.mkdir()
    for name in ("binary.tflite", "float.tflite"):
        (folder / name).write_bytes(name.encode())
    log = []

    def runner(build, path, *, num_runs, min_secs, **_):
        log.append((path.name, num_runs, min_secs))
        if len(log) == fail_at:
            raise RunnerError("runner failed on local (crash)")
        base = 2.0 if path.name == "binary.tflite" else 10.0
        runs = tuple(base * (1 + 0.01 * i) for i in range(num_runs))
        lat, rss = Latency.from_samples(runs), 1000 + len(log)
        timed, first = sum(runs) / 1e3, 50.0 + len(log)
        return RunnerResult("v", "x86_64", lat, rss, runs_ms=runs, timed_s=timed, first_ms=first)

    monkeypatch.setattr(run_module, "run_runner", runner)
    monkeypatch.setattr(
        run_module, "build_runner", lambda t: types.SimpleNamespace(target=get_target("local"))
    )
    return folder, log


def test_binary_and_float_alternate_in_rounds(monkeypatch, tmp_path):
    from bgnn_deploy.targets.run import run_models

    folder, log = _fake_rounds(monkeypatch, tmp_path)
    report = run_models(folder / "binary.tflite", "local", num_runs=12, rounds=5, min_secs=1.0)
    names = [name.split(".")[0] for name, _, _ in log]
    assert names == ["binary", "float", "float", "binary", "binary", "float",
                     "float", "binary", "binary", "float"]  # fmt: skip
    assert [n for name, n, _ in log if name == "binary.tflite"] == [3, 3, 2, 2, 2]
    assert [s for _, _, s in log] == pytest.approx([0.2] * 10)  # --min-secs over the rounds
    binary, float_ = report.results
    runs = {
        role: np.concatenate([[base * (1 + 0.01 * i) for i in range(n)] for n in (3, 3, 2, 2, 2)])
        for role, base in (("binary", 2.0), ("float", 10.0))
    }
    for m in (binary, float_):
        assert m.samples == 12 and len(m.rounds) == 5
        assert m.latency.median == pytest.approx(np.median(runs[m.role]))
        assert m.latency.std == pytest.approx(np.std(runs[m.role], ddof=1))
        assert m.latency.p90 == pytest.approx(np.percentile(runs[m.role], 90))
        assert m.latency.p99 is None  # 12 runs: no p99
    assert binary.result.first_ms == 51.0  # the cold first inference: the first round's
    assert binary.result.peak_rss_kb == 1000 + 9  # the highest of its rounds
    assert report.speedup["1"] == pytest.approx(
        np.median(runs["float"]) / np.median(runs["binary"])
    )
    assert report.speedup_rounds["1"] == pytest.approx([5.0] * 5, rel=0.02)
    assert report.parameters["rounds"] == 5
    assert report.speedup_stability("1") == (True, "5 rounds agree within 0.0%")


def test_a_failed_round_keeps_the_rounds_before_it(monkeypatch, tmp_path):
    from bgnn_deploy.targets.run import run_models

    from bgnn_deploy.errors import BgnnDeployError

    folder, _ = _fake_rounds(monkeypatch, tmp_path, fail_at=4)  # binary's second round
    with pytest.raises(BgnnDeployError) as err:
        run_models(folder / "binary.tflite", "local", num_runs=10, rounds=5)
    partial = err.value.partial_report
    assert [(m.role, len(m.rounds), m.samples) for m in partial.results] == [
        ("binary", 1, 2),
        ("float", 2, 4),
    ]
    assert "1" in partial.speedup  # from what both sides measured
