"""The training loop learns, is reproducible, and keeps binary latent weights clipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.models.binary import PointwiseConv
from bgnn_deploy.training import TrainOptions, evaluate_from_logits, evaluate_model, train_model

CFG = ModelConfig(
    arch="bin-dgcnn-bf2",
    num_points=64,
    k=8,
    widths=(16, 16, 32),
    emb=32,
    mlp=(32,),
    classes=3,
    knn="hamming",
    dropout=0.0,
)


def data(split: str, samples: int):
    return load_dataset("synthetic", split=split, num_points=64, samples=samples, classes=3)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = build_model(CFG)
    result = train_model(
        model,
        data("train", 96),
        TrainOptions(epochs=8, batch_size=16, lr=1e-2),
        test_set=data("test", 48),
    )
    return model, result


def test_binary_dgcnn_learns_well_above_chance(trained):
    model, result = trained
    assert result.history[-1].loss < result.history[0].loss
    assert evaluate_model(model, data("test", 48)).accuracy >= 0.6  # chance is 1/3


def test_latent_weights_stay_clipped(trained):
    model, _ = trained
    for module in model.modules():
        if isinstance(module, PointwiseConv) and module.binary_weights:
            assert module.weight.abs().max().item() <= 1.0


def test_same_seed_same_model():
    def run():
        torch.manual_seed(0)
        model = build_model(CFG)
        train_model(model, data("train", 16), TrainOptions(epochs=1, batch_size=8, seed=5))
        return model.state_dict()

    a, b = run(), run()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_progress_is_reported_per_step():
    calls = []
    train_model(
        build_model(CFG),
        data("train", 16),
        TrainOptions(epochs=2, batch_size=8),
        progress=lambda *args: calls.append(args),
    )
    assert [(e, s, n) for e, s, n, _ in calls] == [(1, 1, 2), (1, 2, 2), (2, 1, 2), (2, 2, 2)]


def test_evaluation_from_logits_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(30, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=30)
    ev = evaluate_from_logits(logits, labels, 4)
    preds = logits.argmax(1)
    assert ev.accuracy == pytest.approx(np.mean(preds == labels))
    for t in range(4):
        for p in range(4):
            assert ev.confusion[t, p] == np.sum((labels == t) & (preds == p))
