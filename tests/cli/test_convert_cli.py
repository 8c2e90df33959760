"""convert, inspect and evaluate-on-.tflite through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig
from bgnn_deploy.training import evaluate_model
from tests.converters.conftest import calibrated_checkpoint

CFG = ModelConfig(
    arch="bin-dgcnn-bf2",
    knn="hamming",
    num_points=64,
    k=6,
    widths=(8, 16),
    emb=16,
    mlp=(16,),
    classes=4,
)


@pytest.fixture(scope="module")
def converted_cli(tmp_path_factory):
    from typer.testing import CliRunner

    from bgnn_deploy.cli.main import app

    root = tmp_path_factory.mktemp("cli")
    model = calibrated_checkpoint(root / "model.pt", CFG)
    result = CliRunner().invoke(
        app,
        ["convert", str(root / "model.pt"), "-o", str(root / "out"), "--samples", "3", "--json"],
    )
    assert result.exit_code == 0, result.output
    return root, model, json.loads(result.stdout)


def test_convert_json_report_interface(converted_cli):
    root, _, report = converted_cli
    parity = report["parity"]
    assert parity["samples"] == 3 and parity["argmax_agreement"] == 1.0
    assert parity["knn_index_agreement"] == 1.0
    assert isinstance(parity["max_abs_logit_diff"], float)
    assert report["notes"] == []  # nothing to tell about this file
    assert set(report["size_bytes"]) == {"binary", "float"}
    assert report["ops"]["binary"]["LceBconv2d"] >= 1 and "LceBconv2d" not in report["ops"]["float"]
    assert sorted(p.name for p in (root / "out").iterdir()) == [
        "binary.tflite",
        "float.tflite",
        "model.onnx",
        "report.json",
    ]


def test_convert_table(cli, converted_cli, tmp_path):
    root, _, _ = converted_cli
    result = cli("convert", root / "model.pt", "-o", tmp_path / "o", "--samples", "1")
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout and "LceBconv2d" in result.stdout


def test_inspect_json_on_our_model(cli, converted_cli):
    root, _, _ = converted_cli
    result = cli("inspect", root / "out" / "binary.tflite", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["size_bytes"] == (root / "out" / "binary.tflite").stat().st_size
    assert info["ops"]["LceBconv2d"] >= 1
    bconv = [c for c in info["custom_ops"] if c["op"] == "LceBconv2d"]
    # the schema's enums by name: 1x1 binary convolutions, no fused activation
    assert bconv and {c["options"]["padding"] for c in bconv} == {"VALID"}
    assert {c["options"]["fused_activation_function"] for c in bconv} == {"NONE"}
    assert {c["options"]["channels_in"] for c in bconv} >= {16}


def test_inspect_any_tflite(cli, tmp_path):
    """A model from plain TensorFlow, not from bgnn-deploy."""
    import tensorflow as tf

    inputs = tf.keras.Input((5,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(3, activation="relu")(inputs))
    path = tmp_path / "plain.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    result = cli("inspect", path, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["ops"] == {"FULLY_CONNECTED": 1}
    assert info["custom_ops"] == [] and info["macs"]["float"] == 15


def test_inspect_table(cli, converted_cli):
    root, _, _ = converted_cli
    result = cli("inspect", root / "out" / "binary.tflite")
    assert result.exit_code == 0 and "channels_in" in result.stdout


def test_inspect_bad_files(cli, tmp_path, converted_cli, user_error):
    root, _, _ = converted_cli
    user_error(cli("inspect", tmp_path / "none.tflite"), "model file not found")
    text = tmp_path / "a.tflite"
    text.write_text("hello world")
    user_error(cli("inspect", text), "not a TFLite flatbuffer")
    data = (root / "out" / "binary.tflite").read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    user_error(cli("inspect", cut), "truncated")


def test_evaluate_tflite_matches_pytorch_accuracy(cli, converted_cli):
    root, model, _ = converted_cli
    result = cli(
        "evaluate",
        root / "out" / "binary.tflite",
        "--samples",
        "12",
        "--json",
        "--save-logits",
        root / "tfl.npy",
    )
    assert result.exit_code == 0, result.output
    data = load_dataset("synthetic", split="test", num_points=64, samples=12, classes=4)
    reference = evaluate_model(model, data)
    np.testing.assert_allclose(np.load(root / "tfl.npy"), reference.logits, rtol=1e-4, atol=1e-4)
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(reference.accuracy)


def test_convert_user_errors(cli, tmp_path, user_error):
    user_error(cli("convert", tmp_path / "nope.pt", "-o", tmp_path / "o"), "model file not found")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 truncated zip")
    user_error(cli("convert", junk, "-o", tmp_path / "o"), "not a readable")
    assert not (tmp_path / "o").exists()


def test_failed_parity_exits_1_with_the_report(cli, converted_cli, tmp_path, monkeypatch):
    from bgnn_deploy.converters.frontends import torch_models as torch_frontend

    real = torch_frontend.torch_trace

    def wrong(model, points):
        trace = real(model, points)
        trace["knn1"] = trace["knn1"][..., ::-1].copy()  # a reference with other neighbours
        return trace

    monkeypatch.setattr(torch_frontend, "torch_trace", wrong)
    root, _, _ = converted_cli
    result = cli("convert", root / "model.pt", "-o", tmp_path / "o", "--samples", "1")
    assert result.exit_code == 1, result.output
    assert "layer 1: Hamming k-NN differs" in result.stderr
    assert result.stderr.count("error: ") == 1
    assert json.loads((tmp_path / "o" / "report.json").read_text())["verified"] is False


def test_unclamped_latent_weights_convert_and_verify_with_a_note(cli, tmp_path):
    """Latent binary weights outside [-1, 1]: clamped as the binary forward does, so the
    float baseline matches its PyTorch reference and the binary model is unchanged."""
    from bgnn_deploy.models.binary import PointwiseConv
    from bgnn_deploy.models.checkpoint import save_checkpoint

    model = calibrated_checkpoint(tmp_path / "clamped.pt", CFG)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, PointwiseConv) and m.binary_weights:
                m.weight.mul_(4.0)
    save_checkpoint(model, tmp_path / "model.pt")
    result = cli("convert", tmp_path / "model.pt", "-o", tmp_path / "out", "--samples", "2")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verified"] and "were clamped" in report["notes"][0]
    assert "note:" in result.stdout


def test_our_own_model_onnx_converts_back(cli, converted_cli, tmp_path):
    """convert's model.onnx is an ONNX file like any other: it converts and verifies
    against ONNX Runtime (its gather is spelled as DGCNN code spells it, its sign as
    Where(x >= 0, 1, -1))."""
    root, _, _ = converted_cli
    result = cli("convert", root / "out" / "model.onnx", "-o", tmp_path / "again",
                 "--samples", "2", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verified"] and report["parity"]["reference"] == "ONNX Runtime"
    assert report["ops"]["binary"]["LceBconv2d"] == converted_cli[2]["ops"]["binary"]["LceBconv2d"]
