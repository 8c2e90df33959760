"""BatchNorm statistics from data, for models that were not trained.

An untrained model keeps BatchNorm's default statistics (mean 0, variance 1), which
leave almost every binary feature at +1: conversion checks and benchmarks on such a
model would exercise nothing. One pass in training mode with ``momentum = None`` (a
cumulative average) sets every BatchNorm to the exact statistics of the given clouds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["calibrate_batchnorm", "calibrate_on_synthetic"]


def calibrate_batchnorm(model: nn.Module, points: np.ndarray) -> nn.Module:
    """Set every BatchNorm's running statistics from ``points`` [B, N, 3]; returns the
    model in eval mode. Weights are untouched."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32)))
    return model.eval()


def calibrate_on_synthetic(
    model: nn.Module, num_points: int, classes: int, *, samples: int = 16, seed: int = 0
) -> nn.Module:
    """`calibrate_batchnorm` on ``samples`` synthetic training clouds (of at most the 8
    synthetic classes): what tests and benchmarks of untrained models use."""
    from bgnn_deploy.data import load_dataset

    clouds = load_dataset(
        "synthetic",
        split="train",
        num_points=num_points,
        samples=samples,
        classes=min(classes, 8),
        seed=seed,
    )
    return calibrate_batchnorm(model, clouds.points)
