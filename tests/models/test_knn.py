"""k-NN in L2 and Hamming space against brute-force NumPy, ties included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.models.knn import edge_features, knn_indices


def brute_force_knn(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Per point: all distances, then (distance, index) order: the lower index wins ties."""
    b, n, _ = x.shape
    out = np.empty((b, n, k), dtype=np.int64)
    for s in range(b):
        for i in range(n):
            if metric == "hamming":
                d = [int(np.sum(x[s, i] != x[s, j])) for j in range(n)]
            else:
                d = [float(np.sum((x[s, i].astype(np.float64) - x[s, j]) ** 2)) for j in range(n)]
            out[s, i] = sorted(range(n), key=lambda j: (d[j], j))[:k]
    return out


def test_hamming_knn_matches_brute_force_with_many_ties():
    rng = np.random.default_rng(0)
    # 8 channels, 40 points: distances are integers 0..8, so ties are everywhere.
    x = np.where(rng.random((3, 40, 8)) < 0.5, -1.0, 1.0).astype(np.float32)
    got = knn_indices(torch.from_numpy(x), 6, "hamming").numpy()
    expected = brute_force_knn(x, 6, "hamming")
    np.testing.assert_array_equal(got, expected)


def test_hamming_ties_at_the_kth_place_prefer_lower_indices():
    # Points 1..4 are all at distance 1 from point 0; k=3 must pick 0, 1, 2.
    x = torch.tensor(
        [[[1, 1, 1, 1], [-1, 1, 1, 1], [1, -1, 1, 1], [1, 1, -1, 1], [1, 1, 1, -1]]],
        dtype=torch.float32,
    )
    assert knn_indices(x, 3, "hamming")[0, 0].tolist() == [0, 1, 2]


def test_l2_knn_matches_brute_force_including_duplicate_points():
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, size=(2, 30, 3)).astype(np.float32)  # integer grid: exact ties
    got = knn_indices(torch.from_numpy(x), 5, "l2").numpy()
    np.testing.assert_array_equal(got, brute_force_knn(x, 5, "l2"))


def test_l2_knn_on_random_floats():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 64, 5)).astype(np.float32)
    got = knn_indices(torch.from_numpy(x), 8, "l2").numpy()
    np.testing.assert_array_equal(got, brute_force_knn(x, 8, "l2"))


def test_each_point_is_its_own_first_neighbour():
    x = torch.randn(2, 50, 3)
    idx = knn_indices(x, 4, "l2")
    np.testing.assert_array_equal(idx[..., 0].numpy(), np.tile(np.arange(50), (2, 1)))


@pytest.mark.parametrize("op", ["sub", "xor"])
def test_edge_features_against_numpy(op):
    rng = np.random.default_rng(3)
    x = np.where(rng.random((2, 4, 10)) < 0.5, -1.0, 1.0).astype(np.float32)  # (B, C, N)
    idx = rng.integers(0, 10, size=(2, 10, 3))
    got = edge_features(torch.from_numpy(x), torch.from_numpy(idx), op).numpy()
    nodes = x.transpose(0, 2, 1)  # (B, N, C)
    for b in range(2):
        for i in range(10):
            for j, nb in enumerate(idx[b, i]):
                rel = (
                    nodes[b, nb] - nodes[b, i]
                    if op == "sub"
                    else (
                        (nodes[b, nb] != nodes[b, i]) * 2.0 - 1.0  # XOR on bits, as ±1
                    )
                )
                np.testing.assert_array_equal(got[b, :4, i, j], rel)
                np.testing.assert_array_equal(got[b, 4:, i, j], nodes[b, i])
