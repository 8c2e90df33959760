"""An in-memory node-classification graph: features, labels, CSR neighbours, split masks.

Neighbours are stored as CSR over incoming edges: the neighbours of node ``i`` are
``indices[indptr[i]:indptr[i + 1]]``, sorted, without duplicates. Undirected graphs
hold both directions of every edge.

    >>> import numpy as np
    >>> csr = csr_from_edges(np.array([0, 1, 1]), np.array([1, 0, 2]), 3)
    >>> csr[0].tolist(), csr[1].tolist()
    ([0, 1, 2, 3], [1, 0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GraphDataset", "csr_from_edges", "homophily"]

SPLITS = ("train", "val", "test")


def csr_from_edges(
    src: np.ndarray, dst: np.ndarray, num_nodes: int, *, symmetric: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` of edges ``src -> dst`` indexed by ``dst``; duplicates and
    self-loops dropped; ``symmetric`` adds every reverse edge."""
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    if symmetric:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    codes = np.unique(dst[keep] * num_nodes + src[keep])  # sorted by dst, then src
    dst_sorted, src_sorted = np.divmod(codes, num_nodes)
    indptr = np.zeros(num_nodes + 1, np.int64)
    np.cumsum(np.bincount(dst_sorted, minlength=num_nodes), out=indptr[1:])
    return indptr, src_sorted.astype(np.int64)


@dataclass(frozen=True)
class GraphDataset:
    features: np.ndarray  # (N, F) float32
    labels: np.ndarray  # (N,) int64; -1 where a node has no label
    indptr: np.ndarray  # (N + 1,) int64
    indices: np.ndarray  # (E,) int64
    masks: dict[str, np.ndarray]  # "train", "val", "test" -> (N,) bool
    num_classes: int
    source: str  # for reports: "synthetic-graph(nodes=..., seed=...)" or a path

    @property
    def num_nodes(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.indices.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def average_degree(self) -> float:
        return self.num_edges / max(1, self.num_nodes)

    def nodes(self, split: str) -> np.ndarray:
        """Indices of the labelled nodes of ``split`` (train, val or test)."""
        return np.flatnonzero(self.masks[split] & (self.labels >= 0))

    def class_names(self) -> tuple[str, ...]:
        return tuple(f"class{i}" for i in range(self.num_classes))


def homophily(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of edges whose two ends have the same label (edge homophily)."""
    dst = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    return float(np.mean(labels[dst] == labels[indices])) if len(indices) else float("nan")
