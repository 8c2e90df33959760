"""`convert --fuse`: per-channel rules, the fused ops' reference, and the fused flatbuffer,
checked against PyTorch (the source model) and the portable LCE form."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.fusion.rules import apply_channel_ops, float_rules, integer_rules
from torch import nn

from bgnn_deploy.models import ModelConfig

C_OUT = 6


def _params(seed: int):
    """Per-channel parameters with both signs: scale, PReLU slope, BatchNorm."""
    rng = np.random.default_rng(seed)
    signed = lambda: (rng.uniform(0.3, 2, C_OUT) * rng.choice([-1, 1], C_OUT)).astype(np.float32)  # noqa: E731
    return {
        "scale": signed(),
        "alpha": np.float32(rng.choice([-1, 1]) * rng.uniform(0.05, 1.5)),
        "gamma": signed(),
        "beta": rng.normal(0, 2, C_OUT).astype(np.float32),
        "mean": rng.normal(0, 3, C_OUT).astype(np.float32),
        "var": rng.uniform(0.2, 4, C_OUT).astype(np.float32),
    }


def _torch_layer(p, bn_on_edges: bool):
    """sign(N(max_j E(y_j))) with PyTorch modules: BF2 (BN on edges) or BF1 (BN after max)."""
    prelu = nn.PReLU(1)
    bn = nn.BatchNorm1d(C_OUT).eval()
    with torch.no_grad():
        prelu.weight.fill_(float(p["alpha"]))
        for name in ("weight", "bias"):
            getattr(bn, name).copy_(torch.from_numpy(p["gamma" if name == "weight" else "beta"]))
        bn.running_mean.copy_(torch.from_numpy(p["mean"]))
        bn.running_var.copy_(torch.from_numpy(p["var"]))
    scale = torch.from_numpy(p["scale"])

    @torch.no_grad()
    def run(y: np.ndarray) -> np.ndarray:  # y [nodes, k, C] -> ±1 [nodes, C]
        e = prelu(torch.from_numpy(y.astype(np.float32)) * scale)
        if bn_on_edges:
            e = bn(e.transpose(1, 2).contiguous()).transpose(1, 2)
        m = e.max(dim=1).values
        if not bn_on_edges:
            m = bn(m)
        return torch.where(m >= 0, 1.0, -1.0).numpy()

    return run


def _ir_ops(p, bn_on_edges: bool):
    bn = ir.BatchNorm(p["gamma"], p["beta"], p["mean"], p["var"], 1e-5)
    edge = [ir.Scale(p["scale"]), ir.PReLU(np.array([p["alpha"]]))]
    return ((*edge, bn), ()) if bn_on_edges else (tuple(edge), (bn,))


@pytest.mark.parametrize("bn_on_edges", [True, False], ids=["bf2", "bf1"])
@pytest.mark.parametrize("seed", range(6))
def test_integer_rules_equal_pytorch_layer_tail(seed, bn_on_edges):
    p = _params(seed)
    channels_in = 37
    edge, node = _ir_ops(p, bn_on_edges)
    rules = integer_rules(edge, node, channels_in=channels_in)
    rng = np.random.default_rng(100 + seed)
    y = 2 * rng.integers(-channels_in, channels_in + 1, size=(4000, 5, C_OUT))
    ours = np.where(rules.holds(y), 1.0, -1.0)
    np.testing.assert_array_equal(ours, _torch_layer(p, bn_on_edges)(y))


@pytest.mark.parametrize("bn_on_edges", [True, False], ids=["bf2", "bf1"])
@pytest.mark.parametrize("seed", range(6))
def test_float_rules_equal_pytorch_layer_tail(seed, bn_on_edges):
    p = _params(seed)
    edge, node = _ir_ops(p, bn_on_edges)
    rules = float_rules(edge, node)
    y = np.random.default_rng(200 + seed).normal(0, 4, size=(3000, 4, C_OUT)).astype(np.float32)
    np.testing.assert_array_equal(
        np.where(rules.holds(y), 1.0, -1.0), _torch_layer(p, bn_on_edges)(y)
    )


@pytest.mark.parametrize("bn_on_edges", [True, False], ids=["bf2", "bf1"])
@pytest.mark.parametrize("seed", range(6))
def test_float_rules_switch_exactly_at_their_bounds(seed, bn_on_edges):
    """At each bound and one float32 step either side, the rule equals P evaluated in
    the float32 arithmetic it was derived from (PyTorch itself rounds its BatchNorm
    differently on some layouts, so there an edge one ulp from a bound may differ)."""
    p = _params(seed)
    edge, node = _ir_ops(p, bn_on_edges)
    rules = float_rules(edge, node)
    top = np.finfo(np.float32).max
    for c in range(C_OUT):
        for bound in rules.bounds[c]:
            if not np.isfinite(bound):
                continue
            for y in (np.nextafter(bound, -top), bound, np.nextafter(bound, top)):
                ys = np.full((C_OUT, 1), y, np.float32)
                p_y = apply_channel_ops(node, apply_channel_ops(edge, ys))[c, 0] >= 0
                edge_set = np.full((1, 1, C_OUT), y, np.float32)  # k = 1: any == all
                assert rules.holds(edge_set)[0, c] == p_y, (c, bound, y)


def test_rules_take_each_reachable_mode_with_negative_slopes_and_gammas():
    """BF layers reach modes 0-2 (ALL_OUTSIDE needs a function with a maximum, which no
    BF op chain has; the kernels are tested on it with synthetic rules)."""
    modes = set()
    for seed in range(12):
        for bn_on_edges in (True, False):
            edge, node = _ir_ops(_params(seed), bn_on_edges)
            modes |= set(integer_rules(edge, node, channels_in=8).mode.tolist())
    assert modes == {0, 1, 2}


FUSABLE = dict(num_points=333, k=7, widths=(24, 40, 70), emb=48, mlp=(40,), classes=5)


@pytest.mark.parametrize("arch", ["bin-dgcnn-bf2", "bin-dgcnn-bf1"])
@pytest.mark.parametrize("knn", ["hamming", "l2"])
def test_fused_reference_matches_pytorch_bit_for_bit(tmp_path, arch, knn):
    from bgnn_deploy.converters.frontends.torch_models import from_torch
    from bgnn_deploy.converters.fusion.plan import plan_fusion
    from bgnn_deploy.converters.fusion.reference import run_front
    from bgnn_deploy.converters.parity import torch_trace

    from bgnn_deploy.data import load_clouds
    from tests.converters.conftest import stressed_checkpoint

    config = ModelConfig(arch=arch, knn=knn, **FUSABLE)
    model = stressed_checkpoint(tmp_path / "m.pt", config, seed=3).eval()
    plan = plan_fusion(from_torch(model))
    for cloud in load_clouds("synthetic", num_points=333, samples=2, classes=5, seed=1):
        ref = torch_trace(model, cloud[None])
        got = run_front(plan, cloud)
        for i in range(3):
            np.testing.assert_array_equal(got[f"knn{i}"], ref[f"knn{i}"][0])
            np.testing.assert_array_equal(got[f"nodes{i}"], ref[f"nodes{i}"][0])
            assert 0.02 < (got[f"nodes{i}"] > 0).mean() < 0.98  # both signs occur
        # the pooled vector, against the model's own embedding + pooling
        with torch.no_grad():
            nodes = torch.from_numpy(np.concatenate([ref[f"nodes{i}"] for i in range(3)], -1))
            emb = model.embed(nodes.transpose(1, 2))
            pooled = torch.cat((emb.amax(-1), emb.mean(-1)), 1).numpy()[0]
        np.testing.assert_allclose(got["pooled"], pooled, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def fused_conversion(tmp_path_factory):
    from bgnn_deploy.converters.convert import convert_checkpoint

    from tests.converters.conftest import stressed_checkpoint

    root = tmp_path_factory.mktemp("fuse")
    config = ModelConfig(arch="bin-dgcnn-bf2", knn="hamming", **FUSABLE)
    stressed_checkpoint(root / "m.pt", config, seed=5)
    report = convert_checkpoint(root / "m.pt", root / "out", samples=3, fuse=True)
    return root, report


def test_convert_fuse_writes_fused_ops_and_proves_them(fused_conversion, cli):
    root, report = fused_conversion
    data = json.loads((root / "out" / "report.json").read_text())
    assert data["fused"] is True and report.verified
    assert data["fused_ops"] == {  # the first layer finds its own L2 neighbours
        "BgnnL2Knn": 0,
        "BgnnHammingKnn": 2,
        "BgnnEdgeConv": 3,
        "BgnnEmbedPool": 1,
    }
    ops = data["ops"]["binary"]
    for builtin in ("GATHER", "TILE", "TOPK_V2", "REDUCE_MAX", "SUB"):
        assert builtin not in ops, ops  # nothing per edge left to LiteRT
    checks = data["parity"]["checks"]
    for key in ("fused", "fused_vs_portable"):
        check = checks[key]
        assert (
            check["ok"] and check["argmax_agreement"] == 1.0 and check["knn_index_agreement"] == 1.0
        )
        assert check["max_rel_logit_diff"] <= 1e-4
        assert all(layer["feature_agreement"] == 1.0 for layer in check["layers"])
    info = cli("inspect", root / "out" / "binary.tflite", "--json")
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["ops"]["BgnnEdgeConv"] == 3


def test_portable_conversion_is_unchanged_without_fuse(converted):
    config = ModelConfig(arch="bin-dgcnn-bf2", knn="hamming", **dict(FUSABLE, num_points=96, k=8))
    _, out, _, _ = converted("bf2-portable", config)
    data = json.loads((out / "report.json").read_text())
    assert data["fused"] is False and data["fused_ops"] == {}
    assert not any(op.startswith("Bgnn") for op in data["ops"]["binary"])


@pytest.mark.parametrize(
    ("arch", "changes", "named"),
    [
        ("bin-dgcnn-rf", {}, "EdgeConv layer 1"),
        ("dgcnn", {}, "binary model"),
        ("bin-dgcnn-bf1", {"balance": "mean"}, "EdgeConv layer 1: a balance function"),
        ("bin-dgcnn-bf2", {"rescale_points": True}, "EdgeConv layer 1: per-point"),
    ],
)
def test_fuse_refuses_what_it_cannot_fuse_naming_the_layer(
    tmp_path, cli, user_error, arch, changes, named
):
    from tests.converters.conftest import calibrated_checkpoint

    config = ModelConfig(
        arch=arch, num_points=32, k=4, widths=(8, 8), emb=16, mlp=(8,), classes=3, **changes
    )
    calibrated_checkpoint(tmp_path / "m.pt", config)
    result = cli("convert", tmp_path / "m.pt", "-o", tmp_path / "out", "--fuse", "--samples", "1")
    user_error(result, named)
    assert not (tmp_path / "out").exists()
