"""Real ONNX exports of public DGCNN code (tests/converters/fixtures/onnx/README.md):
each is valid, runs in ONNX Runtime, and is recorded against `bgnn-deploy convert`."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort


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


def test_fixture_converts(onnx_fixture_to_convert, cli, tmp_path):
    path, _, _, refusal = onnx_fixture_to_convert
    out = tmp_path / "out"
    result = cli("convert", path, "-o", out)
    if refusal is not None and result.exit_code == 2 and result.output.strip() == refusal:
        raise NotImplementedError(refusal)  # the recorded refusal: expected to fail (xfail)
    assert result.exit_code == 0, result.output
    assert (out / "binary.tflite").is_file() and (out / "float.tflite").is_file()
