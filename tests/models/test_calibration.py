"""BatchNorm calibration of untrained models: exact statistics of the given clouds."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.models.calibration import calibrate_batchnorm


def test_statistics_are_those_of_the_clouds_and_repeatable():
    config = ModelConfig(arch="dgcnn", num_points=64, k=5, widths=(8, 8, 16, 16), emb=32,
                         mlp=(16,), classes=4)  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config)
    points = load_dataset("synthetic", split="train", num_points=64, samples=6, classes=4).points
    first = next(m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
    seen = {}
    first.register_forward_hook(lambda _m, inputs, _out: seen.setdefault("x", inputs[0]))
    calibrate_batchnorm(model, points)
    assert not model.training
    x = seen["x"].transpose(0, 1).reshape(first.num_features, -1).double()  # channels first
    np.testing.assert_allclose(first.running_mean, x.mean(1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first.running_var, x.var(1, unbiased=True), rtol=1e-4, atol=1e-5)
    again = first.running_mean.clone()
    calibrate_batchnorm(model, points)  # a second pass gives the same, not an average
    np.testing.assert_allclose(first.running_mean, again, rtol=1e-6)
