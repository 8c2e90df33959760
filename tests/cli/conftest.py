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
