from __future__ import annotations

import pytest

SMALL = [
    "--points",
    "48",
    "--k",
    "6",
    "--widths",
    "8,16",
    "--emb",
    "16",
    "--mlp",
    "16",
    "--classes",
    "3",
    "--samples",
    "12",
    "--test-samples",
    "6",
]


@pytest.fixture
def small_model(cli, tmp_path):
    path = tmp_path / "model.pt"
    result = cli("train", "bin-dgcnn-bf2", "--knn", "hamming", "--epochs", "1", *SMALL, "-o", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint_bytes(tmp_path_factory) -> bytes:
    """The smallest binary DGCNN that converts with every parity check met (BatchNorm
    statistics from data), as checkpoint bytes: tests copy it where they need it."""
    import torch

    from bgnn_deploy.models import ModelConfig, build_model
    from bgnn_deploy.models.calibration import calibrate_on_synthetic
    from bgnn_deploy.models.checkpoint import save_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        knn="hamming",
        num_points=32,
        k=4,
        widths=(8, 8),
        emb=16,
        mlp=(16,),
        classes=3,
    )
    torch.manual_seed(0)
    model = build_model(config)
    calibrate_on_synthetic(model, config.num_points, config.classes, seed=0)
    path = tmp_path_factory.mktemp("tiny") / "model.pt"
    save_checkpoint(model, path)
    return path.read_bytes()
