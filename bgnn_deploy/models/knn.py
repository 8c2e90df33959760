"""k-nearest-neighbour graphs in L2 and Hamming space, with one tie rule.

Tie rule (shared by every implementation in bgnn-deploy: PyTorch reference, converted
models, native kernels): neighbours are ordered by distance, and **among equal
distances the lower point index comes first**. Integer Hamming distances tie often
(most rows of a 64-bit feature map have ties at the k-th place), and ``torch.topk``
is not stable, so without a rule two correct implementations disagree.

Each point is its own nearest neighbour (distance 0), as in DGCNN.

    >>> import torch
    >>> x = torch.tensor([[[1., 1.], [1., -1.], [-1., -1.], [1., 1.]]])  # (B=1, N=4, C=2)
    >>> knn_indices(x, k=2, metric="hamming").tolist()
    [[[0, 3], [1, 0], [2, 1], [0, 3]]]
"""

from __future__ import annotations

import torch

__all__ = ["edge_features", "hamming_distances", "knn_indices", "l2_distances"]


def l2_distances(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``(B, N, N)`` between the rows of ``x`` ``(B, N, C)``.

    Written as |xi|^2 - 2 xi.xj + |xj|^2, the form the converted models compute too, so
    that rounding (and thus near-tie order) is as alike as possible across runtimes.
    """
    sq = (x * x).sum(-1)
    return sq.unsqueeze(-1) - 2.0 * x @ x.transpose(1, 2) + sq.unsqueeze(-2)


def hamming_distances(x: torch.Tensor) -> torch.Tensor:
    """Hamming distances ``(B, N, N)`` between ±1 rows of ``x`` ``(B, N, C)``.

    For ±1 vectors, xi.xj = C - 2 * hamming(xi, xj), exact in float32 for C < 2**24.
    On a board the same distances come from XOR + popcount on bit-packed rows.
    """
    c = x.shape[-1]
    return (c - x @ x.transpose(1, 2)) * 0.5


def knn_indices(x: torch.Tensor, k: int, metric: str = "l2") -> torch.Tensor:
    """Indices ``(B, N, k)`` of the k nearest rows of ``x`` ``(B, N, C)``; ties: lower index."""
    n, c = x.shape[1], x.shape[2]
    if metric == "hamming":
        dist = hamming_distances(x)
        # Integer distances plus j/N (< 1) make every key unique with the lower index
        # first, so a plain top-k (exportable to ONNX) follows the tie rule exactly, as
        # long as float32 still separates steps of 1/N at distance C.
        if c * n < 2**23:
            key = dist + torch.arange(n, dtype=dist.dtype, device=dist.device) / n
            return torch.topk(key, k, dim=-1, largest=False, sorted=True).indices
    elif metric == "l2":
        dist = l2_distances(x)
        if torch.onnx.is_in_onnx_export():
            # ONNX has no stable sort; exact float ties (duplicate points) may then order
            # differently, which parity reports count.
            return torch.topk(dist, k, dim=-1, largest=False, sorted=True).indices
    else:
        raise ValueError(f"unknown k-NN metric {metric!r}")
    # A stable ascending sort keeps equal distances in index order: the tie rule.
    return torch.sort(dist, dim=-1, stable=True).indices[..., :k]


def edge_features(x: torch.Tensor, idx: torch.Tensor, op: str = "sub") -> torch.Tensor:
    """EdgeConv inputs ``(B, 2C, N, k)`` from node features ``x`` ``(B, C, N)``.

    Each edge (i, j) carries ``concat(op(x_j, x_i), x_i)``. ``op="sub"`` is DGCNN's
    ``x_j - x_i``; ``op="xor"`` is XOR on ±1 values, written as ``-x_j * x_i``
    (+1 where the bits differ).
    """
    b, c, n = x.shape
    k = idx.shape[-1]
    nodes = x.transpose(1, 2)  # (B, N, C)
    if torch.onnx.is_in_onnx_export():
        # the same rows, spelled as DGCNN code does (indices into the flattened batch, one
        # Gather): the form bgnn-deploy's ONNX reader follows, so model.onnx converts back
        base = (torch.arange(b, device=idx.device) * n).view(b, 1, 1)
        flat_rows = (idx + base).reshape(-1)
        neighbours = nodes.reshape(b * n, c)[flat_rows].reshape(b, n, k, c)
    else:
        flat = idx.reshape(b, n * k, 1).expand(b, n * k, c)
        neighbours = torch.gather(nodes, 1, flat).reshape(b, n, k, c)
    centre = nodes.unsqueeze(2).expand(b, n, k, c)
    if op == "sub":
        rel = neighbours - centre
    elif op == "xor":
        rel = -neighbours * centre
    else:
        raise ValueError(f"unknown edge op {op!r}")
    return torch.cat((rel, centre), dim=-1).permute(0, 3, 1, 2).contiguous()
