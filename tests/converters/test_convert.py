"""Conversion of every variant, at small and odd sizes, against the parity targets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bgnn_deploy.converters.tflite_model import summarize_file

from bgnn_deploy.models import ModelConfig
from tests.converters.conftest import SMALL, binary_features_balanced

VARIANTS = {
    "dgcnn": ModelConfig(arch="dgcnn", **SMALL),
    "rf": ModelConfig(arch="bin-dgcnn-rf", **SMALL),
    "bf1": ModelConfig(arch="bin-dgcnn-bf1", knn="hamming", **SMALL),
    "bf2": ModelConfig(arch="bin-dgcnn-bf2", knn="hamming", **SMALL),
    # odd channel counts, a point count that is no power of two, odd k
    "odd": ModelConfig(
        arch="bin-dgcnn-bf1",
        knn="hamming",
        num_points=333,
        k=7,
        widths=(70, 33, 64),
        emb=70,
        mlp=(45,),
        classes=5,
        balance="median",
    ),
}


def binary_dense_count(config: ModelConfig) -> int:
    """Dense layers with binary weights and binary inputs, derived from the architecture."""
    edges = len(config.widths) - 1  # layer 1 sees real xyz
    return edges + 1 + len(config.mlp)  # + embedding + hidden MLP layers


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_converts_and_meets_parity_targets(converted, name):
    config = VARIANTS[name]
    _, out, report, model = converted(name, config)
    data = report.data
    assert data["verified"], data["parity"]["failures"]
    parity = data["parity"]
    assert parity["samples"] == 4
    assert parity["argmax_agreement"] == 1.0
    assert 0.0 <= parity["knn_index_agreement"] <= 1.0
    layers = parity["checks"]["binary" if config.is_binary else "float"]["layers"]
    flipped = [lp for lp in layers if lp["features_differing"]]
    judged = layers
    if flipped:  # a feature whose reference value before the sign is 0 within rounding
        first = flipped[0]
        assert 0 < first["features_near_zero"] == first["features_differing"], first
        judged = layers[: first["layer"] + 1]  # later layers see different inputs
    else:
        assert parity["max_abs_logit_diff"] < 1e-3
    if config.is_binary:
        ok, shares = binary_features_balanced(model, config)
        assert ok, f"degenerate binary features make the check vacuous: {shares}"
        assert (out / "binary.tflite").exists() and (out / "model.onnx").exists()
        ops = data["ops"]["binary"]
        assert ops["LceBconv2d"] == binary_dense_count(config)
        assert ops["LceQuantize"] >= ops["LceBconv2d"]
        binary = parity["checks"]["binary"]
        hamming = [lp for lp in judged if lp["metric"] == "hamming"]
        assert binary["layers"] == layers and all(lp["index_agreement"] == 1.0 for lp in hamming)
        if config.arch != "bin-dgcnn-rf":
            exact = [lp for lp in judged if not lp["features_differing"]]
            assert len(exact) >= len(judged) - 1
            assert all(lp["feature_agreement"] == 1.0 for lp in exact)
        assert parity["checks"]["onnx"]["argmax_agreement"] == 1.0
        assert data["size_bytes"]["binary"] < data["size_bytes"]["float"]
        assert 0 < data["macs"]["binary_share"] <= 1
    else:
        assert not (out / "binary.tflite").exists() and not (out / "model.onnx").exists()
    assert not any(op.startswith("Lce") for op in data["ops"]["float"])
    assert parity["checks"]["float"]["max_rel_logit_diff"] <= 1e-4
    on_disk = json.loads((out / "report.json").read_text())
    for key in ("binary", "float") if config.is_binary else ("float",):
        assert on_disk["size_bytes"][key] == (out / f"{key}.tflite").stat().st_size
        assert on_disk["ops"][key] == summarize_file(out / f"{key}.tflite").ops


def test_binary_tflite_logits_match_pytorch_independently(converted):
    """Re-run binary.tflite in LCE's interpreter here, not through the parity code."""
    import torch
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    from bgnn_deploy.data import load_dataset

    config = VARIANTS["bf2"]
    _, out, _, model = converted("bf2", config)
    clouds = load_dataset("synthetic", split="test", num_points=96, samples=3, classes=5).points
    interp = Interpreter((out / "binary.tflite").read_bytes())
    for cloud in clouds:
        got = interp.predict(cloud[None])
        with torch.no_grad():
            want = model(torch.from_numpy(cloud[None])).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
