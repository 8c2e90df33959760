"""The runner program: its JSON interface, its errors, and the converted BinDGCNN end to end."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from bgnn_deploy.converters.tflite_model import builtin_name, read_model, summarize
from bgnn_deploy.targets.build import RunnerBuild
from bgnn_deploy.targets.execute import RunnerError, run_runner

from bgnn_deploy.results.records import RunnerResult


def test_json_interface_and_profile(qemu_build, converted):
    result = run_runner(
        qemu_build,
        converted / "builtin" / "binary.tflite",
        num_runs=3,
        warmup_runs=1,
        profile_ops=True,
    )
    # every field the runner prints is read, none left unset
    assert result.runtime and result.init_ms > 0 and result.first_ms > 0
    assert result.warmup_ms > 0 and result.model_bytes > 0 and result.num_threads == 1
    lat = result.latency
    assert lat.runs == 3 and lat.min <= lat.median <= lat.max
    assert None not in (lat.mean, lat.std, lat.p90, lat.p95, lat.p99)
    assert len(result.runs_ms) == 3  # each timed run, in order
    assert (min(result.runs_ms), max(result.runs_ms)) == (lat.min, lat.max)
    assert result.emulated is True and result.arch == "aarch64" and result.isa == "neon"
    assert result.ops["LceBconv2d"].calls_per_run == 4  # 2 edge layers + embed + 1 head
    assert result.profile.source == "tflite-telemetry" and result.nodes
    assert result.peak_rss_kb >= result.peak_rss_kb_after_init > 0
    assert result.outputs[0].shape == (1, 4) and result.outputs[0].bytes == 16
    assert RunnerResult.parse(result.to_dict()) == result  # what the store keeps reads back


def test_min_secs_keeps_running_past_num_runs(converted):
    from bgnn_deploy.targets.build import build_runner

    result = run_runner(
        build_runner("local"), converted / "builtin" / "binary.tflite", num_runs=1, min_secs=0.3
    )
    start, end = result.timed_window_boottime_s
    assert end - start >= 0.3 - 1e-3 and result.latency.runs > 1  # clocks read apart
    assert len(result.runs_ms) == result.latency.runs


def test_fused_knn_runs_and_matches_builtin(qemu_build, converted, tmp_path):
    x = np.random.default_rng(0).normal(size=(1, 64, 3)).astype(np.float32)
    (tmp_path / "x.raw").write_bytes(x.tobytes())
    outs = {}
    for mode in ("builtin", "fused"):
        run_runner(
            qemu_build,
            converted / mode / "binary.tflite",
            num_runs=1,
            warmup_runs=0,
            input_path=tmp_path / "x.raw",
            output_path=tmp_path / f"{mode}.raw",
        )
        outs[mode] = (tmp_path / f"{mode}.raw").read_bytes()
    assert outs["builtin"] == outs["fused"]  # same logits, bit for bit


def test_outputs_identical_for_any_thread_count_under_qemu(qemu_build, converted_256, tmp_path):
    """The TFLite C API glue: our kernels split rows over 1-4 (emulated) threads and the
    builtins get the same count; the logits stay the same, bit for bit."""
    x = np.random.default_rng(7).normal(size=(1, 256, 3)).astype(np.float32)
    (tmp_path / "x.raw").write_bytes(x.tobytes())
    outs = set()
    for threads in (1, 2, 3, 4):
        result = run_runner(
            qemu_build,
            converted_256 / "binary.tflite",
            num_runs=1,
            warmup_runs=0,
            threads=threads,
            input_path=tmp_path / "x.raw",
            output_path=tmp_path / f"{threads}.raw",
        )
        assert result.num_threads == threads and result.emulated is True
        outs.add((tmp_path / f"{threads}.raw").read_bytes())
    assert len(outs) == 1


def test_verify_cli_on_emulated_board(cli, converted, user_error):
    for name in ("binary", "float"):
        result = cli(
            "verify",
            converted / "builtin" / f"{name}.tflite",
            "--target",
            "qemu-aarch64",
            "--samples",
            "2",
            "--json",
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["samples"] == 2 and report["argmax_agreement"] == 1.0
        assert report["max_abs_diff"] < 1e-4 and report["emulated"] is True
    fused = converted / "fused" / "binary.tflite"
    user_error(cli("verify", fused, "--target", "qemu-aarch64"), "uses BgnnHammingKnn")
    result = cli(
        "verify",
        fused,
        "--target",
        "qemu-aarch64",
        "--samples",
        "1",
        "--reference",
        converted / "builtin" / "binary.tflite",
        "--json",
    )
    assert result.exit_code == 0, result.output


def test_build_cli_json(cli):
    result = cli("build", "--target", "qemu-aarch64", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["target"] == "qemu-aarch64" and info["runner"] and info["runtime_library"]


def test_garbage_and_truncated_models(qemu_build, converted, tmp_path):
    garbage = tmp_path / "g.tflite"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(RunnerError, match=r"\(model\).*not a TFLite flatbuffer"):
        run_runner(qemu_build, garbage, num_runs=1)
    data = (converted / "builtin" / "binary.tflite").read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunnerError) as err:
        run_runner(qemu_build, cut, num_runs=1)
    assert err.value.result["stage"] in ("model", "prepare")


def test_missing_runtime_library(qemu_build, converted, tmp_path):
    broken = RunnerBuild(qemu_build.target, qemu_build.runner, tmp_path / "libnothing.so", "", "")
    with pytest.raises(RunnerError, match=r"\(runtime\).*cannot load the TFLite runtime library"):
        run_runner(broken, converted / "builtin" / "binary.tflite", num_runs=1)


def test_wrong_architecture_binary(qemu_build, converted):
    import dataclasses

    native = dataclasses.replace(qemu_build.target, launcher=())  # an aarch64 binary, no qemu
    broken = dataclasses.replace(qemu_build, target=native)
    with pytest.raises(RunnerError, match="cannot start the runner"):
        run_runner(broken, converted / "builtin" / "binary.tflite", num_runs=1)


def test_unsupported_attribute_is_named(qemu_build, converted, tmp_path):
    """An LceBconv2d whose options lack 'padding' fails at load, naming op and attribute."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(converted / "builtin" / "binary.tflite"))
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode == b"LceBconv2d":
            options = flexbuffers.Loads(bytes(op.customOptions))
            del options["padding"]
            op.customOptions = list(flexbuffers.Dumps(options))
    broken = tmp_path / "broken.tflite"
    flatbuffer_utils.write_model(model, str(broken))
    with pytest.raises(RunnerError, match="LceBconv2d: custom option 'padding' missing"):
        run_runner(qemu_build, broken, num_runs=1)


def test_run_cli_json_finds_the_baseline(cli, converted):
    result = cli(
        "run",
        converted / "builtin" / "binary.tflite",
        "--target",
        "qemu-aarch64",
        "--num-runs",
        "2",
        "--min-secs",
        "0",
        "--threads",
        "1,2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["target"] == "qemu-aarch64" and report["emulated"] is True
    roles = [(r["role"], r["threads"]) for r in report["results"]]
    assert roles == [("binary", 1), ("float", 1), ("binary", 2), ("float", 2)]
    first = report["results"][0]
    assert len(first["model_sha256"]) == 64 and first["latency_ms"]["runs"] == 2
    medians = {(r["role"], r["threads"]): r["latency_ms"]["median"] for r in report["results"]}
    assert report["speedup"] == pytest.approx(medians[("float", 1)] / medians[("binary", 1)])
    assert report["run_id"]  # stored (in the test's own database)


def test_run_cli_table_labels_emulation(cli, converted):
    result = cli(
        "run", converted / "builtin" / "float.tflite", "--target", "qemu-aarch64", "--num-runs", "1"
    )
    assert result.exit_code == 0, result.output
    assert "EMULATED" in result.stdout


def test_crash_is_reported_and_earlier_results_kept(cli, converted, tmp_path, monkeypatch):
    """A runner killed by a signal (as by the OOM killer): the error says so, and what was
    measured before it is printed."""
    path = tmp_path / "targets.toml"
    path.write_text(
        '[doomed]\narch = "aarch64"\ntransport = "local"\nruntime = "tflite-c"\nemulated = true\n'
        'launcher = ["sh", "-c", "case \\"$*\\" in *float*) kill -9 $$;; esac; '
        'exec qemu-aarch64 -L /usr/aarch64-linux-gnu \\"$@\\"", "sh"]\n'
    )
    monkeypatch.setenv("BGNN_DEPLOY_TARGETS", str(path))
    result = cli(
        "run", converted / "builtin" / "binary.tflite", "--target", "doomed", "--num-runs", "1"
    )
    assert result.exit_code == 3
    assert "killed on doomed by signal 9" in result.stderr and "out-of-memory" in result.stderr
    assert "measured before the failure" in result.stderr
    assert "binary" in result.stdout  # the binary model's row, measured before the crash


def test_targets_check_refuses_an_old_glibc(cli, tmp_path, monkeypatch):
    """A board with glibc 2.27 (JetPack 4) cannot load the TFLite C API library: said."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldd").write_text("#!/bin/sh\necho 'ldd (Ubuntu GLIBC 2.27-3ubuntu1) 2.27'\n")
    (fake / "ldd").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    targets = tmp_path / "targets.toml"
    targets.write_text('[old-jetson]\narch = "host"\ntransport = "local"\nruntime = "tflite-c"\n')
    monkeypatch.setenv("BGNN_DEPLOY_TARGETS", str(targets))
    result = cli("targets", "check", "old-jetson", "--json")
    assert result.exit_code == 3
    facts = json.loads(result.stdout)
    assert facts["glibc"] == "2.27" and not facts["runner_ok"]
    assert "older than the 2.30 the tflite-c runtime needs (e.g. JetPack 4)" in facts["problems"][0]


def test_run_is_stored_with_target_facts(cli, converted, tmp_path):
    db = tmp_path / "results.sqlite"
    result = cli(
        "run",
        converted / "builtin" / "float.tflite",
        "--target",
        "qemu-aarch64",
        "--num-runs",
        "1",
        "--db",
        db,
        "--json",
    )
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    shown = json.loads(cli("results", "show", run_id, "--db", db, "--json").stdout)
    assert shown["target"] == "qemu-aarch64" and shown["emulated"] is True
    facts = shown["facts"]  # the guest's and the emulator's, not the host's
    assert facts["arch"] == "aarch64" and facts["emulator"].startswith("qemu-aarch64 ")
    assert shown["flags"]["num_runs"] == 1 and shown["flags"]["min_secs"] == 1.0
    listed = json.loads(cli("results", "list", "--db", db, "--json").stdout)
    assert [r["run_id"] for r in listed] == [run_id]


@pytest.mark.parametrize("name", ["binary", "float"])
def test_the_emulated_profile_times_every_node_of_the_model(qemu_build, converted, name):
    """The TFLite C API's telemetry profiler under qemu (emulated times): one entry per
    operator of the flatbuffer, by its index and op type, as the model file lists them
    (this runtime delegates none of them), and op totals that are those nodes' sums."""
    model = converted / "builtin" / f"{name}.tflite"
    result = run_runner(qemu_build, model, num_runs=2, warmup_runs=0, profile_ops=True)
    assert result.emulated and result.profile.source == "tflite-telemetry"
    flatbuffer = read_model(model.read_bytes())
    codes = [flatbuffer.operatorCodes[op.opcodeIndex] for op in flatbuffer.subgraphs[0].operators]
    listed = [
        c.customCode.decode()
        if c.customCode
        else builtin_name(max(c.builtinCode, c.deprecatedBuiltinCode))
        for c in codes
    ]
    assert [(n.index, n.op) for n in result.nodes] == list(enumerate(listed))
    assert all(n.calls_per_run == 1 and n.delegate_kernel is None for n in result.nodes)
    for op, count in summarize(model.read_bytes()).ops.items():
        assert result.ops[op].calls_per_run == count
        by_nodes = sum(n.ms_per_run for n in result.nodes if n.op == op)
        assert result.ops[op].ms_per_run == pytest.approx(by_nodes, abs=1e-3 * count)
    other = result.ops["other (unattributed)"].ms_per_run
    assert sum(op.ms_per_run for op in result.ops.values()) == pytest.approx(
        result.latency.mean, abs=1e-3 * len(result.ops)
    )
    assert other < 0.1 * result.latency.mean  # the interpreter's own work between nodes
