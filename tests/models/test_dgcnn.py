"""Shapes, parameter counts and binarization structure of every variant."""

from __future__ import annotations

import pytest
import torch

from bgnn_deploy.errors import ConfigError
from bgnn_deploy.models import (
    ARCHITECTURES,
    ModelConfig,
    binary_parameter_count,
    build_model,
    describe_architectures,
    parameter_count,
)

SMALL = dict(num_points=32, k=5, widths=(8, 8, 16), emb=24, mlp=(16, 12), classes=4)


def bn(c: int) -> int:
    return 2 * c  # gamma + beta


def expected_counts(arch: str, widths=(64, 64, 128, 256), emb=1024, mlp=(512, 256), classes=40):
    """Parameter counts derived by hand from the architecture description (DESIGN.md §2)."""
    ins = [3, *widths[:-1]]
    total_w = sum(widths)
    conv = sum(2 * i * o for i, o in zip(ins, widths, strict=True)) + total_w * emb
    dense = 0
    prev = 2 * emb
    for w in mlp:
        dense += prev * w
        prev = w
    dense += prev * classes
    binary = conv + dense - prev * classes  # the classifier stays float
    if arch == "dgcnn":
        params = conv + dense + classes + bn(total_w) + bn(emb) + sum(bn(w) for w in mlp)
        return params, 0
    prelus = len(widths) + 1 + len(mlp)
    scales = total_w + emb + sum(mlp) + classes
    head_bns = bn(2 * emb) + sum(bn(w) for w in mlp)  # BN before each binary linear
    if arch == "bin-dgcnn-rf":
        norms = sum(bn(2 * i) for i in ins) + bn(total_w)
    else:
        norms = bn(total_w) + bn(emb)
    return conv + dense + prelus + scales + head_bns + norms, binary


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_parameter_counts_at_paper_sizes(arch):
    model = build_model(ModelConfig(arch=arch))
    params, binary = expected_counts(arch)
    assert parameter_count(model) == params
    assert binary_parameter_count(model) == binary


def test_float_dgcnn_matches_the_published_size():
    # Wang et al. report ~1.8M parameters for DGCNN on ModelNet40.
    assert abs(parameter_count(build_model(ModelConfig(arch="dgcnn"))) - 1.8e6) < 0.02e6


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_forward_shape_and_configurable_sizes(arch):
    cfg = ModelConfig(arch=arch, **SMALL)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 32, 3))
    assert out.shape == (3, 4)
    params, binary = expected_counts(arch, SMALL["widths"], SMALL["emb"], SMALL["mlp"], 4)
    assert parameter_count(model) == params
    assert binary_parameter_count(model) == binary


@pytest.mark.parametrize("arch", ["bin-dgcnn-bf1", "bin-dgcnn-bf2"])
def test_bf_node_features_are_plus_minus_one(arch):
    model = build_model(ModelConfig(arch=arch, knn="hamming", **SMALL)).eval()
    x = torch.randn(2, 32, 3).transpose(1, 2)
    with torch.no_grad():
        for layer in model.edge_convs:
            x = layer(x)
            assert set(x.unique().tolist()) <= {-1.0, 1.0}
    assert [layer.metric for layer in model.edge_convs] == ["l2", "hamming", "hamming"]
    assert [layer.edge_op for layer in model.edge_convs] == ["sub", "xor", "xor"]


def test_rf_keeps_real_graph_features_and_l2():
    model = build_model(ModelConfig(arch="bin-dgcnn-rf", **SMALL))
    assert all(layer.metric == "l2" and layer.edge_op == "sub" for layer in model.edge_convs)
    # The first layer sees real xyz edge features (no sign), later ones binarize.
    kinds = [type(layer.edge_mlp[1]).__name__ for layer in model.edge_convs]
    assert kinds == ["Identity", "Binarize", "Binarize"]


def test_binary_activations_off_gives_real_features():
    cfg = ModelConfig(arch="bin-dgcnn-bf1", binary_activations=False, **SMALL)
    model = build_model(cfg).eval()
    x = torch.randn(2, 32, 3).transpose(1, 2)
    with torch.no_grad():
        x = model.edge_convs[0](x)
    assert len(x.unique()) > 2


def test_balance_centres_before_sign():
    model = build_model(ModelConfig(arch="bin-dgcnn-bf1", balance="median", **SMALL)).eval()
    x = torch.randn(1, 32, 3).transpose(1, 2)
    with torch.no_grad():
        x = model.edge_convs[0](x)
    # Median-centred over points: each channel has (about) half its points positive.
    positive = (x > 0).float().mean(dim=2)
    assert ((positive >= 0.4) & (positive <= 0.65)).all()


def test_hamming_knn_needs_binary_node_features():
    with pytest.raises(ConfigError, match="Hamming k-NN needs a BF variant"):
        ModelConfig(arch="bin-dgcnn-rf", knn="hamming")


def test_unknown_arch_suggests_the_closest():
    with pytest.raises(ConfigError) as err:
        ModelConfig(arch="bin-dgcnn-bf")
    assert "unknown architecture 'bin-dgcnn-bf'" in str(err.value)
    assert err.value.hint and "bin-dgcnn-bf" in err.value.hint


@pytest.mark.parametrize("field,value", [("k", 0), ("num_points", 4), ("classes", 1)])
def test_bad_sizes_are_rejected(field, value):
    kwargs = {**SMALL, field: value}
    with pytest.raises(ConfigError):
        ModelConfig(arch="dgcnn", **kwargs)


def test_describe_architectures_reports_deployed_size():
    rows = {r["arch"]: r for r in describe_architectures()}
    bf1 = rows["bin-dgcnn-bf1"]
    float_part = bf1["parameters"] - bf1["binary_parameters"]
    assert bf1["deployed_weight_bytes"] == float_part * 4 + (bf1["binary_parameters"] + 7) // 8
    assert rows["dgcnn"]["deployed_weight_bytes"] == rows["dgcnn"]["parameters"] * 4
