"""--knn fused: the BgnnHammingKnn op replaces exactly the Hamming k-NN subgraphs, and
its documented semantics (NumPy below) equal the builtin form it replaces."""

from __future__ import annotations

import numpy as np
from bgnn_deploy.converters.backends.keras_lce import build_keras, convert_to_tflite
from bgnn_deploy.converters.frontends.torch_models import from_torch
from bgnn_deploy.converters.knn_fusion import fuse_hamming_knn
from bgnn_deploy.converters.tflite_model import summarize
from bgnn_deploy.converters.tflite_runtime import HostInterpreter

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig
from tests.converters.conftest import SMALL

CONFIG = ModelConfig(arch="bin-dgcnn-bf2", knn="hamming", **SMALL)


def numpy_hamming_knn(x: np.ndarray, k: int) -> np.ndarray:
    """The spec in docs/ops/BgnnHammingKnn.md, on bits: XOR + popcount, lower index first."""
    bits = (x < 0).astype(np.uint8)  # sign(0) = +1 -> bit 0
    dist = (bits[:, None, :] ^ bits[None, :, :]).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(len(x)), dist.shape), dist), axis=-1)
    return order[:, :k]


def test_fused_op_replaces_each_hamming_knn(converted):
    _, _, report, _ = converted("bf2", CONFIG)
    builtin = (report.out_dir / "binary.tflite").read_bytes()
    fused, count = fuse_hamming_knn(builtin)
    assert count == len(CONFIG.widths) - 1  # every layer but the first (L2 on xyz)
    before, after = summarize(builtin), summarize(fused)
    assert after.ops["BgnnHammingKnn"] == count
    assert after.ops["TOPK_V2"] == before.ops["TOPK_V2"] - count
    assert after.ops.get("FULLY_CONNECTED", 0) + after.ops.get("BATCH_MATMUL", 0) == (
        before.ops.get("FULLY_CONNECTED", 0) + before.ops.get("BATCH_MATMUL", 0) - count
    )
    options = [c["options"] for c in after.custom_ops if c["op"] == "BgnnHammingKnn"]
    assert options == [{"k": CONFIG.k, "tie_rule": "lower_index"}] * count
    assert fuse_hamming_knn(fused)[1] == 0  # nothing left to fuse


def test_spec_semantics_equal_the_builtin_form(converted):
    _, _, _, model = converted("bf2", CONFIG)
    debug = convert_to_tflite(build_keras(from_torch(model), debug=True), binary=True)
    interp = HostInterpreter(debug, lce=True)
    cloud = load_dataset("synthetic", split="test", num_points=96, samples=1, classes=5).points
    out = interp.run(cloud)
    for i in range(1, len(CONFIG.widths)):
        features = out[f"nodes{i - 1}"][0]
        np.testing.assert_array_equal(out[f"knn{i}"][0], numpy_hamming_knn(features, CONFIG.k))


def test_convert_fused_mode_writes_the_op(converted):
    _, _, report, _ = converted(
        "bf1-fused", ModelConfig(arch="bin-dgcnn-bf1", knn="hamming", **SMALL), knn="fused"
    )
    assert report.data["knn_mode"] == "fused"
    assert report.data["fused_knn_ops"] == len(SMALL["widths"]) - 1
    assert report.data["ops"]["binary"]["BgnnHammingKnn"] == len(SMALL["widths"]) - 1
    assert report.data["verified"]
