"""The runner natively on this host (x86_64: LiteRt CompiledModel API, libLiteRt.so)."""

from __future__ import annotations

import json
import platform

import numpy as np
import pytest
from bgnn_deploy.converters.litert_prepare import prepare_for_litert
from bgnn_deploy.converters.tflite_model import read_model, summarize
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import read_outputs, run_runner
from flatbuffers import flexbuffers

from tests.targets.test_runner import converted  # noqa: F401  (module fixture)

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="checks the x86_64 host glue"
)


def test_build_local_uses_litert(cli):
    result = cli("build", "--target", "local", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["arch"] == "x86_64" and info["runtime_library"].endswith("libLiteRt.so")
    assert info["emulated"] is False


def test_prepared_model_is_aligned_and_names_each_node(converted):  # noqa: F811
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
def test_verify_local_matches_host_interpreter(cli, converted, name):  # noqa: F811
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


def test_fused_knn_natively_equals_builtin(converted, tmp_path):  # noqa: F811
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


def test_run_local_reports_real_timings(cli, converted):  # noqa: F811
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
