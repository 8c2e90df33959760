"""GraphSAGE training: neighbour sampling, the distillation loss, both recipes on tiny
graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.data.synthetic_graph import synthetic_graph
from bgnn_deploy.errors import ConfigError
from bgnn_deploy.models.sage_config import SageConfig
from bgnn_deploy.training.sampling import NeighbourSampler
from bgnn_deploy.training.train_sage import (
    SageTrainOptions,
    distillation_loss,
    train_sage_recipe,
)


def test_sampler_draws_real_neighbours_within_the_fanouts():
    g = synthetic_graph(500, degree=12, seed=0)
    sampler = NeighbourSampler(g.indptr, g.indices, (4, 3), seed=1)
    batch = np.array([7, 3, 99])
    n_id, blocks = sampler.sample(batch)
    # every block's sources are a prefix of n_id, its targets a prefix of its sources;
    # the last block's targets are the batch
    assert n_id[: blocks[-1].num_targets].tolist() == batch.tolist()
    for block, fanout in zip(blocks, (3, 4), strict=True):  # first layer first
        indptr, indices = block.indptr.numpy(), block.indices.numpy()
        for t, node in enumerate(n_id[: block.num_targets]):
            chosen = n_id[indices[indptr[t] : indptr[t + 1]]]
            true = set(g.indices[g.indptr[node] : g.indptr[node + 1]].tolist())
            assert len(chosen) == min(fanout, len(true))
            assert len(set(chosen.tolist())) == len(chosen)  # without replacement
            assert set(chosen.tolist()) <= true
    assert blocks[0].num_targets == len(
        np.unique(np.concatenate([batch, n_id[blocks[1].indices.numpy()]]))
    )
    assert len(set(n_id.tolist())) == len(n_id)


def test_sampler_is_deterministic_per_seed():
    g = synthetic_graph(300, degree=10, seed=0)
    a = NeighbourSampler(g.indptr, g.indices, (5, 5), seed=3).sample(np.arange(20))
    b = NeighbourSampler(g.indptr, g.indices, (5, 5), seed=3).sample(np.arange(20))
    assert np.array_equal(a[0], b[0])


def test_distillation_loss_is_hintons_formula():
    torch.manual_seed(0)
    s, t, y = torch.randn(5, 4), torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    p_t = torch.softmax(t / 2, 1)
    kl = (p_t * (torch.log(p_t) - torch.log_softmax(s / 2, 1))).sum(1).mean()
    ce = -torch.log_softmax(s, 1)[torch.arange(5), y].mean()
    expected = 0.9 * ce + 0.1 * 4 * kl
    assert distillation_loss(s, t, y, t=2.0, alpha=0.1).item() == pytest.approx(expected.item())


def _tiny_graph():
    return synthetic_graph(600, classes=4, features=16, degree=10, p_in=0.8, noise=3.0, seed=0)


@pytest.mark.parametrize("arch", ["bin-sage", "sage"])
def test_single_recipe_learns_well_above_chance(arch):
    g = _tiny_graph()
    config = SageConfig(arch=arch, in_channels=16, hidden=32, layers=2, classes=4)
    options = SageTrainOptions(epochs=6, batch_size=64, lr=1e-2, fanouts=(8, 4))
    (stage,) = train_sage_recipe(config, g, options)
    chance = np.bincount(g.labels[g.nodes("test")]).max() / len(g.nodes("test"))
    assert stage.test_accuracy > chance + 0.25
    assert len(stage.result.history) == 6


def test_paper_recipe_trains_the_teacher_then_three_distilled_stages():
    g = synthetic_graph(200, classes=4, features=8, degree=6, seed=0)
    config = SageConfig(in_channels=8, hidden=16, layers=2, classes=4)
    options = SageTrainOptions(epochs=1, batch_size=64, fanouts=(4, 4), recipe="paper")
    stages = train_sage_recipe(config, g, options)
    assert [s.name for s in stages] == ["sage", "tanh", "binary-activations", "binary"]
    assert [(s.config.arch, s.config.binary_weights, s.config.activations) for s in stages] == [
        ("sage", False, "real"),
        ("bin-sage", False, "tanh"),
        ("bin-sage", False, "binary"),
        ("bin-sage", True, "binary"),
    ]


def test_paper_recipe_needs_a_binary_student_and_fanouts_match_layers():
    g = synthetic_graph(100, classes=4, features=8, degree=6, seed=0)
    float_config = SageConfig(arch="sage", in_channels=8, hidden=8, layers=2, classes=4)
    with pytest.raises(ConfigError, match="binary student"):
        train_sage_recipe(float_config, g, SageTrainOptions(epochs=1, recipe="paper"))
    with pytest.raises(ConfigError, match="fan-outs"):
        train_sage_recipe(float_config, g, SageTrainOptions(epochs=1, fanouts=(3, 3, 3)))


def test_sampling_every_neighbour_gives_the_full_graph_logits():
    """With fan-outs above the largest degree the sampled blocks hold whole
    neighbourhoods: the batch's logits equal those of layer-wise full-graph inference."""
    from bgnn_deploy.models import build_model
    from bgnn_deploy.training.train_sage import predict_node_logits

    g = synthetic_graph(300, classes=4, features=8, degree=6, seed=1)
    model = build_model(SageConfig(in_channels=8, hidden=16, classes=4)).eval()
    big = int(np.diff(g.indptr).max()) + 1
    batch = np.array([5, 17, 250, 3])
    n_id, blocks = NeighbourSampler(g.indptr, g.indices, (big,) * 3, seed=0).sample(batch)
    with torch.no_grad():
        sampled = model(torch.from_numpy(g.features[n_id]), blocks).numpy()
    np.testing.assert_allclose(sampled, predict_node_logits(model, g)[batch], atol=1e-4)
