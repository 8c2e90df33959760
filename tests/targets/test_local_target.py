"""The runner natively on this host (x86_64: LiteRt CompiledModel API, libLiteRt.so)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import time

import numpy as np
import pytest
from bgnn_deploy.converters.litert_prepare import prepare_for_litert
from bgnn_deploy.converters.tflite_model import builtin_name, read_model, summarize
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import read_outputs, run_runner
from flatbuffers import flexbuffers

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="checks the x86_64 host glue"
)


def test_build_local_uses_litert(cli):
    result = cli("build", "--target", "local", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["arch"] == "x86_64" and info["runtime_library"].endswith("libLiteRt.so")
    assert info["emulated"] is False


def test_prepared_model_is_aligned_and_names_each_node(converted):
    """What the LiteRt glue relies on (its outputs are checked by the verify tests below)."""
    from tensorflow.lite.python import schema_py_generated as schema

    original = (converted / "builtin" / "binary.tflite").read_bytes()
    prepared = prepare_for_litert(original)
    model = read_model(prepared)
    graph = model.subgraphs[0]
    custom = [model.operatorCodes[op.opcodeIndex].customCode for op in graph.operators]
    custom = [name.decode() for name in custom if name]
    assert (
        len(custom)
        == len(set(custom))
        == sum(count for op, count in summarize(original).ops.items() if op.startswith("Lce"))
    )
    for op in graph.operators:  # custom ops have no absent (-1) inputs left
        if model.operatorCodes[op.opcodeIndex].customCode:
            assert all(i >= 0 for i in op.inputs)
    for op in graph.operators:
        name = model.operatorCodes[op.opcodeIndex].customCode
        if name and name.startswith(b"LceDequantize"):
            options = flexbuffers.Loads(bytes(bytearray(op.customOptions)))
            assert options["channels"] == graph.tensors[op.outputs[0]].shape[-1]
    buf = bytearray(prepared)
    root = schema.Model.GetRootAsModel(buf, 0)
    base = np.frombuffer(buf, np.uint8).__array_interface__["data"][0]
    offsets = [
        root.Buffers(i).DataAsNumpy().__array_interface__["data"][0] - base
        for i in range(root.BuffersLength())
        if root.Buffers(i).DataLength()
    ]
    assert offsets and all(offset % 64 == 0 for offset in offsets)


@pytest.mark.parametrize("name", ["binary", "float"])
def test_verify_local_matches_host_interpreter(cli, converted, name):
    result = cli(
        "verify",
        converted / "builtin" / f"{name}.tflite",
        "--target",
        "local",
        "--samples",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["argmax_agreement"] == 1.0 and report["max_abs_diff"] < 1e-4
    assert report["emulated"] is False


def test_fused_knn_natively_equals_builtin(converted, tmp_path):
    build = build_runner("local")
    x = np.random.default_rng(3).normal(size=(1, 64, 3)).astype(np.float32)
    (tmp_path / "x.raw").write_bytes(x.tobytes())
    outs = {}
    for mode in ("builtin", "fused"):
        result = run_runner(
            build,
            converted / mode / "binary.tflite",
            num_runs=1,
            warmup_runs=0,
            input_path=tmp_path / "x.raw",
            output_path=tmp_path / f"{mode}.raw",
        )
        outs[mode] = read_outputs(result, tmp_path / f"{mode}.raw")[0]
    np.testing.assert_array_equal(outs["builtin"], outs["fused"])


def test_run_local_reports_real_timings(cli, converted):
    result = cli(
        "run",
        converted / "builtin" / "binary.tflite",
        "--target",
        "local",
        "--num-runs",
        "5",
        "--json",
        "--profile-ops",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["emulated"] is False and report["speedup"] > 0
    binary = report["results"][0]
    assert binary["runtime_api"] == "litert" and binary["arch"] == "x86_64"
    assert binary["ops"]["LceBconv2d"]["calls_per_run"] == 4


def test_run_local_measures_each_thread_count(cli, converted):
    result = cli(
        "run",
        converted / "fused" / "binary.tflite",
        "--target",
        "local",
        "--num-runs",
        "3",
        "--threads",
        "1,2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    runs = [(r["role"], r["threads"], r["num_threads"]) for r in report["results"]]
    assert runs == [("binary", 1, 1), ("float", 1, 1), ("binary", 2, 2), ("float", 2, 2)]
    assert set(report["speedup_by_threads"]) == {"1", "2"}


def peak_threads(model, threads: int) -> int:
    """Most threads the runner process had while running `model` for about a second."""
    build = build_runner("local")
    prepared = model.with_suffix(f".litert-{threads}.tflite")
    prepared.write_bytes(prepare_for_litert(model.read_bytes()))
    cmd = [
        str(build.runner),
        "--graph",
        str(prepared),
        "--runtime",
        str(build.runtime_library),
        "--runtime_api",
        "litert",
        "--num_runs",
        "1",
        "--min_secs",
        "1",
        "--num_threads",
        str(threads),
    ]
    peak = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        while proc.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                peak = max(peak, len(os.listdir(f"/proc/{proc.pid}/task")))
            time.sleep(0.02)
        assert proc.returncode == 0, proc.stdout.read()
    prepared.unlink()
    return peak


def test_builtins_and_our_kernels_get_the_thread_count(converted_256, tmp_path):
    """XNNPACK (LiteRt's CPU accelerator) starts threads-1 workers from the CPU options the
    glue passes, and our pool threads-1 more once a kernel splits its rows."""
    for name in ("float", "binary"):
        shutil.copy(converted_256 / f"{name}.tflite", tmp_path / f"{name}.tflite")
    assert peak_threads(tmp_path / "float.tflite", 1) == 1
    assert peak_threads(tmp_path / "float.tflite", 2) == 2  # main + XNNPACK's worker
    assert peak_threads(tmp_path / "binary.tflite", 2) == 3  # + our pool's worker


def test_outputs_identical_for_any_thread_count_natively(converted_256, tmp_path):
    build = build_runner("local")
    x = np.random.default_rng(5).normal(size=(1, 256, 3)).astype(np.float32)
    (tmp_path / "x.raw").write_bytes(x.tobytes())
    for name in ("binary", "float"):
        outs = set()
        for threads in (1, 2, 3):
            out = tmp_path / f"{name}-{threads}.raw"
            run_runner(
                build,
                converted_256 / f"{name}.tflite",
                num_runs=1,
                warmup_runs=0,
                threads=threads,
                input_path=tmp_path / "x.raw",
                output_path=out,
            )
            outs.add(out.read_bytes())
        assert len(outs) == 1, name  # bit for bit


def test_two_runs_preparing_one_model_at_once_both_get_it(tmp_path, monkeypatch):
    """The LiteRt copy of a model is prepared into a cache; two runs that prepare the same
    model at the same moment must each get the complete file and leave no temp file."""
    import threading

    from bgnn_deploy.converters import litert_prepare
    from bgnn_deploy.targets import execute

    monkeypatch.setenv("BGNN_DEPLOY_CACHE", str(tmp_path / "cache"))
    together = threading.Barrier(2)

    def prepare(data: bytes) -> bytes:
        together.wait(5)  # both runs have prepared it: now both write it
        return data * 1000

    monkeypatch.setattr(litert_prepare, "prepare_for_litert", prepare)
    for attempt in range(10):
        model = tmp_path / f"model-{attempt}.tflite"
        model.write_bytes(b"TFL3" * 256 + bytes([attempt]))
        results, errors = [], []

        def one(model=model, results=results, errors=errors):
            try:
                results.append(execute._prepared(model, "litert"))
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(set(results)) == 1 and results[0].read_bytes() == model.read_bytes() * 1000
    assert not list((tmp_path / "cache" / "litert-models").glob("*.tmp"))


def test_a_store_that_fails_after_the_runs_loses_no_measurement(cli, converted, monkeypatch):
    """The runs finished but the results database refused the append (disk full, a
    damaged page): the figures are still printed, with one error line."""
    from bgnn_deploy.errors import BgnnDeployError
    from bgnn_deploy.results import ResultsStore

    def refuse(self, *args, **kwargs):
        raise BgnnDeployError("results.sqlite is not a usable results database: disk I/O error")

    monkeypatch.setattr(ResultsStore, "add_run", refuse)
    model = converted / "builtin" / "binary.tflite"
    result = cli("run", model, "--target", "local", "--num-runs", "2", "--json")
    assert result.exit_code == 2 and result.stderr.count("error: ") == 1, result.output
    assert "measured before the failure" in result.stderr
    printed = json.loads(result.stdout)
    assert [r["role"] for r in printed["results"]] == ["binary", "float"]
    assert all(r["latency_ms"]["median"] > 0 for r in printed["results"])


@pytest.mark.parametrize("target", ["local", "qemu-aarch64"])
def test_an_unrelated_keras_model_runs_like_the_tflite_interpreter(target, keras_dense, tmp_path):
    """A plain Keras dense model (dynamic batch dimension, no custom op): the runner on
    either runtime gives the interpreter's outputs. LiteRt's dynamic dimension (-1) used to
    become an allocation of 2^64 bytes ("allocation failed")."""
    from bgnn_deploy.converters.tflite_runtime import HostInterpreter

    model = keras_dense
    flatbuffer = model.read_bytes()
    x = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    (tmp_path / "in.raw").write_bytes(x.tobytes())
    result = run_runner(
        build_runner(target),
        model,
        num_runs=1,
        input_path=tmp_path / "in.raw",
        output_path=tmp_path / "out.raw",
    )
    (got,) = read_outputs(result, tmp_path / "out.raw")
    (want,) = HostInterpreter(flatbuffer, lce=False).run(x).values()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_verify_refuses_models_that_are_not_point_cloud_models(
    cli, user_error, converted, keras_dense
):
    binary = converted / "builtin" / "binary.tflite"
    user_error(cli("verify", keras_dense, "--target", "local"), "verify runs point-cloud models")
    user_error(
        cli("verify", binary, "--reference", keras_dense, "--target", "local"),
        "is not a form of binary.tflite",
    )


def _operators(model) -> list[str]:
    """The op of each operator of the model's main subgraph, read from the flatbuffer."""
    flatbuffer = read_model(model.read_bytes())
    codes = [flatbuffer.operatorCodes[op.opcodeIndex] for op in flatbuffer.subgraphs[0].operators]
    return [
        c.customCode.decode()
        if c.customCode
        else builtin_name(max(c.builtinCode, c.deprecatedBuiltinCode))
        for c in codes
    ]


@pytest.mark.parametrize("name", ["binary", "float"])
def test_the_profile_names_every_node_builtins_included(converted, name):
    """LiteRt's profiler: each interpreter node by its index and the op the model file
    gives it, XNNPACK's operators inside its kernels, op totals that are those entries'
    sums, and shares that add up to the mean latency with a small remainder."""
    model = converted / "builtin" / f"{name}.tflite"
    result = run_runner(build_runner("local"), model, num_runs=20, profile_ops=True)
    assert result.profile.source == "litert-profiler" and result.profile.unavailable is None
    listed = _operators(model)
    interpreter = [n for n in result.nodes if n.delegate_kernel is None]
    assert interpreter and all(n.op == listed[n.index] for n in interpreter)
    assert len({n.index for n in interpreter}) == len(interpreter)
    assert all(n.calls_per_run == 1 for n in result.nodes)
    kernels = {n.delegate_kernel for n in result.nodes} - {None}
    outside = [n.delegate_kernel for n in result.nodes if n.index < 0]
    assert sorted(outside) == sorted(kernels)  # each kernel's own time, once
    builtins = {op for op in listed if not op.startswith(("Lce", "Bgnn"))}
    if name == "float":  # all builtins: CONV_2D and the rest in XNNPACK, TOPK_V2 and others not
        assert {n.op for n in interpreter} <= builtins
        assert any(n.delegate_kernel is not None for n in result.nodes)
    else:  # each of our ops' nodes, as many as the model has
        for op in ("LceBconv2d", "LceQuantize", "LceDequantize"):
            assert sum(n.op == op for n in interpreter) == listed.count(op) > 0
        assert {n.op for n in interpreter} & builtins
    for op in {n.op for n in result.nodes}:
        by_nodes = [n for n in result.nodes if n.op == op]
        assert result.ops[op].calls_per_run == len(by_nodes)
        assert result.ops[op].ms_per_run == pytest.approx(
            sum(n.ms_per_run for n in by_nodes), abs=1e-4 * len(by_nodes) + 1e-9
        )
    mean = result.latency.mean
    assert sum(op.ms_per_run for op in result.ops.values()) == pytest.approx(
        mean, abs=1e-4 * len(result.ops)
    )
    # LiteRt's run outside the interpreter and its reported stages, and the profiler's cost
    assert result.ops["other (unattributed)"].ms_per_run < 0.4 * mean


def test_without_the_flag_there_is_no_profile(converted):
    result = run_runner(build_runner("local"), converted / "fused" / "binary.tflite", num_runs=3)
    assert result.ops == {} and result.nodes == () and result.profile is None


def test_run_prints_the_profile_within_80_columns(cli, converted, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("run", converted / "builtin" / "binary.tflite", "--target", "local",
                 "--num-runs", "5", "--min-secs", "0", "--profile-ops", "--no-store")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for op in ("TOPK_V2", "LceBconv2d", "other (unattributed)"):
        row = next(line for line in lines if line.split("  ")[0].strip() == op)
        ms, share, *_ = row[len(op) + 1 :].split()
        assert float(ms) > 0 and share.endswith("%")
    assert sum("the 10 slowest of" in line for line in lines) == 2  # binary and float
