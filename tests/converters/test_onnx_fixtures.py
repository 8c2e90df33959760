"""Real ONNX exports of public DGCNN code (tests/converters/fixtures/onnx/README.md):
each is valid, runs in ONNX Runtime, and is recorded against `bgnn-deploy convert`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from bgnn_deploy.converters.tflite_runtime import HostInterpreter


def test_fixture_is_valid_onnx(onnx_fixture):
    path, _, _ = onnx_fixture
    onnx.checker.check_model(str(path), full_check=True)


def test_fixture_runs_in_onnx_runtime(onnx_fixture, onnx_fixture_cloud):
    path, shape, classes = onnx_fixture
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert tuple(inp.shape) == shape
    (logits,) = session.run(None, {inp.name: onnx_fixture_cloud(shape)})
    assert logits.shape == (1, classes)
    assert np.isfinite(logits).all()


def test_fixture_converts(
    onnx_fixture_to_convert, onnx_fixture_cloud, onnx_fixture_model, cli, tmp_path
):
    path, shape, classes, refusal = onnx_fixture_to_convert
    out = tmp_path / "out"
    result = cli("convert", path, "-o", out, "--samples", 2)
    if refusal is not None and result.exit_code == 2 and result.output.strip() == refusal:
        raise NotImplementedError(refusal)  # the recorded refusal: expected to fail (xfail)
    assert result.exit_code == 0, result.output
    binary, metrics = onnx_fixture_model(path)
    report = json.loads((out / "report.json").read_text())
    parity = report["parity"]
    assert report["verified"] is True and parity["failures"] == []
    assert parity["reference"] == "ONNX Runtime"
    assert parity["argmax_agreement"] == 1.0
    assert parity["max_abs_logit_diff"] < 1e-3
    converted = "binary.tflite" if binary else "float.tflite"
    assert (out / converted).is_file()
    assert (out / "binary.tflite").is_file() == binary  # a float model has no binary form
    check = parity["checks"]["binary" if binary else "float"]
    assert check["name"].startswith(converted) and check["name"].endswith("vs ONNX Runtime")
    assert [layer["metric"] for layer in check["layers"]] == list(metrics)
    if binary:
        assert parity["unchecked"] and "float.tflite" in parity["unchecked"][0]
    else:
        assert parity["unchecked"] == [] and "binary" not in parity["checks"]

    # Independently of the report: the converted model on the seeded cloud (our [1, N, 3]
    # input, whatever the file's layout) against ONNX Runtime on the file.
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cloud = onnx_fixture_cloud(shape)
    (want,) = session.run(None, {session.get_inputs()[0].name: cloud})
    ours = cloud.transpose(0, 2, 1) if shape[1] == 3 else cloud
    interp = HostInterpreter((out / converted).read_bytes(), lce=binary)
    got = interp.run(ours)["logits"]
    assert got.shape == (1, classes)
    assert got.argmax() == want.argmax()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_unsupported_node_in_an_export_is_named(cli, user_error, tmp_path):
    """A real export with one op the description has no rule for: refused naming the node,
    why and what to do, without a traceback and without writing anything."""
    fixture = Path(__file__).parent / "fixtures" / "onnx" / "wangyue-dgcnn-float-cf-legacy.onnx"
    proto = onnx.load(str(fixture))
    node = next(n for n in proto.graph.node if n.op_type == "LeakyRelu")
    node.op_type = "Softsign"
    del node.attribute[:]
    path = tmp_path / "odd.onnx"
    onnx.save(proto, path)
    result = cli("convert", path, "-o", tmp_path / "out")
    user_error(result, f"ONNX node '{node.name}' (Softsign)")
    assert "docs/onnx-frontend.md" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
