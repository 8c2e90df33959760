"""GraphSAGE models: structure of the paper's BinSAGE, the mean aggregation against a
dense adjacency product in NumPy, and the paper checkpoint loader against logits made
by the paper's own code (tests/models/fixtures/sage/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bgnn_deploy.errors import CheckpointError, ConfigError
from bgnn_deploy.models import build_model, describe_architectures
from bgnn_deploy.models import sage as sage_module
from bgnn_deploy.models.binary import Binarize, PointwiseConv
from bgnn_deploy.models.checkpoint import load_checkpoint, save_checkpoint
from bgnn_deploy.models.sage import Block, mean_aggregate
from bgnn_deploy.models.sage_config import SageConfig

FIXTURES = Path(__file__).parent / "fixtures" / "sage"


def _dense_csr(adjacency: np.ndarray) -> Block:
    """CSR of a dense 0/1 matrix whose row i marks the neighbours of node i."""
    rows, cols = np.nonzero(adjacency)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(adjacency)))])
    return Block(torch.from_numpy(indptr), torch.from_numpy(cols), len(adjacency))


@pytest.mark.parametrize("budget", [None, 7])
def test_mean_aggregation_matches_a_dense_adjacency_product(monkeypatch, budget):
    if budget is not None:  # tiny chunks: the chunked path gives the same answer
        monkeypatch.setattr(sage_module, "_GATHER_BUDGET", budget)
    rng = np.random.default_rng(3)
    adjacency = (rng.random((30, 30)) < 0.2).astype(np.float64)
    adjacency[5] = 0  # a node without neighbours aggregates to 0, as PyG's mean
    x = rng.normal(size=(30, 7))
    degree = adjacency.sum(1, keepdims=True)
    expected = np.where(degree > 0, adjacency @ x / np.maximum(degree, 1), 0.0)
    block = _dense_csr(adjacency)
    got = mean_aggregate(torch.from_numpy(x), block.indptr, block.indices).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert not got[5].any()


def test_aggregation_passes_gradients_to_the_sources():
    block = Block(torch.tensor([0, 2, 3]), torch.tensor([1, 2, 0]), 2)
    x = torch.ones(3, 2, requires_grad=True)
    mean_aggregate(x, block.indptr, block.indices).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 1], [0.5, 0.5], [0.5, 0.5]])


def test_bin_sage_is_the_papers_binsage():
    model = build_model(SageConfig(in_channels=10, hidden=16, classes=5))
    assert [(c.lin_l.linear.in_channels, c.lin_l.linear.out_channels) for c in model.convs] == [
        (10, 16),
        (16, 16),
        (16, 5),
    ]
    first, *rest = model.convs
    for side in (first.lin_l, first.lin_r):  # real node features in: no BN, no sign
        assert isinstance(side.center, nn.Identity) and isinstance(side.quantize, nn.Identity)
        assert side.linear.binary_weights
    for conv in rest:
        for side in (conv.lin_l, conv.lin_r):
            assert isinstance(side.center, nn.BatchNorm1d)
            assert side.center.momentum == 0.999
            assert isinstance(side.quantize, Binarize)
            assert side.linear.bias is None and side.linear.binary_weights
    assert all(isinstance(b, nn.Identity) for b in model.between)  # ogbn-products: none


def test_float_sage_is_pygs_sageconv_stack():
    model = build_model(SageConfig(arch="sage", in_channels=10, hidden=16, classes=5))
    conv = model.convs[0]
    assert isinstance(conv.lin_l, PointwiseConv) and conv.lin_l.bias is not None
    assert conv.lin_r.bias is None and not conv.lin_l.binary_weights
    assert all(isinstance(b, nn.ReLU) for b in model.between)


def test_binary_weights_are_signs_and_latents_stay_clamped():
    model = build_model(SageConfig(in_channels=6, hidden=8, classes=3))
    block = Block(torch.tensor([0, 1, 2, 3]), torch.tensor([1, 2, 0]), 3)
    opt = torch.optim.SGD(model.parameters(), lr=50.0)  # steps far past [-1, 1]
    model(torch.randn(3, 6), [block] * 3).square().sum().backward()
    opt.step()
    model.clip_latent_weights_()
    for module in model.modules():
        if isinstance(module, PointwiseConv):
            assert module.weight.abs().max() <= 1.0
            assert set(module.effective_weight().unique().tolist()) <= {-1.0, 1.0}


def test_hidden_features_reach_the_linear_as_signs():
    model = build_model(SageConfig(in_channels=4, hidden=8, classes=3)).eval()
    seen = []
    model.convs[1].lin_l.linear.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    block = Block(torch.tensor([0, 1, 2]), torch.tensor([1, 0]), 2)
    model(torch.randn(2, 4), [block] * 3)
    assert set(seen[0].unique().tolist()) <= {-1.0, 1.0}


def test_config_checks_and_describe_lists_the_family():
    with pytest.raises(ConfigError, match="unknown activation quantizer"):
        SageConfig(activations="ternary")
    with pytest.raises(ConfigError, match="unknown architecture"):
        SageConfig(arch="gcn")
    rows = {r["arch"]: r for r in describe_architectures()}
    assert rows["bin-sage"]["family"] == "sage" and rows["dgcnn"]["family"] == "dgcnn"
    # ogbn-products sizes: 100 -> 256 -> 256 -> 47, two linears per layer, all binary
    assert rows["bin-sage"]["binary_parameters"] == 2 * (100 * 256 + 256 * 256 + 256 * 47)
    assert rows["sage"]["binary_parameters"] == 0


def test_checkpoint_round_trip_keeps_the_family(tmp_path):
    model = build_model(SageConfig(in_channels=4, hidden=8, classes=3, between="prelu"))
    save_checkpoint(model, tmp_path / "m.pt", meta={"note": 1})
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.config == model.config and loaded.meta == {"note": 1}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)


def _fixture_graph() -> tuple[torch.Tensor, Block]:
    x = torch.from_numpy(np.load(FIXTURES / "x.npy"))
    src, dst = np.load(FIXTURES / "edge_index.npy")  # PyG: row 0 sources, row 1 targets
    adjacency = np.zeros((len(x), len(x)))
    adjacency[dst, src] = 1
    return x, _dense_csr(adjacency)


@pytest.mark.parametrize(("arch", "stem"), [("bin-sage", "binsage"), ("sage", "sage")])
def test_paper_checkpoint_gives_the_papers_logits(arch, stem):
    loaded = load_checkpoint(FIXTURES / f"{stem}_state_dict.pt", arch=arch)
    assert loaded.source_format == "paper"
    x, graph = _fixture_graph()
    logits = loaded.model.inference(x, graph).numpy()
    expected = np.load(FIXTURES / f"{stem}_logits.npy")
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert loaded.config.in_channels == 6 and loaded.config.hidden == 16


def test_paper_checkpoint_notes_clamped_latents_and_unknown_stage():
    loaded = load_checkpoint(FIXTURES / "binsage_state_dict.pt", arch="bin-sage")
    assert any("outside [-1, 1]" in n for n in loaded.notes)
    assert any("does not say which parts" in n for n in loaded.notes)


def test_paper_distillation_tuple_and_wrong_arch(tmp_path):
    state = torch.load(FIXTURES / "binsage_state_dict.pt", weights_only=True)
    torch.save((0.9, state, 0.8), tmp_path / "stage.pt")  # the distillation script's layout
    assert load_checkpoint(tmp_path / "stage.pt", arch="bin-sage").config.classes == 4
    with pytest.raises(CheckpointError, match="not the paper's sage"):
        load_checkpoint(FIXTURES / "binsage_state_dict.pt", arch="sage")
    del state["convs.2.lin_r.rescale.scale_b"]
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "cut.pt", arch="bin-sage")
