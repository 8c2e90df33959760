"""The fused ops' semantics in NumPy, straight from their specs (docs/ops/), edge by edge.

This is what ``convert --fuse`` checks a plan with on the host, where no interpreter
runs our custom ops, and what the native kernels are tested against: it forms every
edge's value and applies each channel's rule to all k of them (the kernels decide the
common modes from the max and min instead), builds the k-NN by a stable sort, and
computes dot products of ±1 arrays exactly.
"""

from __future__ import annotations

import numpy as np
from bgnn_deploy.converters.fusion.plan import FusedEdgeConv, FusedEmbed, FusedPlan

__all__ = ["edge_conv", "embed_pool", "hamming_knn", "l2_knn", "run_front"]


def l2_knn(x: np.ndarray, k: int) -> np.ndarray:
    """BgnnL2Knn: (|x_i|^2 - 2 x_i.x_j) + |x_j|^2 in float32, sums left to right."""
    x = x.astype(np.float32)
    sq = np.zeros(len(x), np.float32)
    dot = np.zeros((len(x), len(x)), np.float32)
    for t in range(x.shape[1]):
        sq = (sq + x[:, t] * x[:, t]).astype(np.float32)
        dot = (dot + np.outer(x[:, t], x[:, t]).astype(np.float32)).astype(np.float32)
    dist = ((sq[:, None] - np.float32(2) * dot).astype(np.float32) + sq[None, :]).astype(np.float32)
    return np.argsort(dist, axis=1, kind="stable")[:, :k].astype(np.int32)


def hamming_knn(signs: np.ndarray, k: int) -> np.ndarray:
    """BgnnHammingKnn on ±1 rows: ascending Hamming distance, lower index first."""
    s = signs.astype(np.float64)
    dist = (s.shape[1] - s @ s.T) / 2
    return np.argsort(dist, axis=1, kind="stable")[:, :k].astype(np.int32)


def edge_conv(layer: FusedEdgeConv, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """BgnnEdgeConv: node features x [N, C] (real, or ±1) -> ±1 features [N, Cout]."""
    c = layer.channels_in
    w_edge, w_centre = layer.signs[:, :c], layer.signs[:, c:]
    if layer.binary_input:
        s = x.astype(np.float64)
        edges = -s[idx] * s[:, None, :]  # xor(x_j, x_i) on ±1 values
        y = edges @ w_edge.T.astype(np.float64) + (s @ w_centre.T.astype(np.float64))[:, None, :]
        y = y.astype(np.int64)
    else:
        x = x.astype(np.float32)

        def dots(w: np.ndarray, rows: np.ndarray) -> np.ndarray:  # left to right, float32
            acc = np.zeros((len(rows), len(w)), np.float32)
            for t in range(c):
                acc = (acc + rows[:, t : t + 1] * w[None, :, t]).astype(np.float32)
            return acc

        u = dots(w_edge.astype(np.float32), x)
        v = dots((w_centre - w_edge).astype(np.float32), x)
        y = (u[idx] + v[:, None, :]).astype(np.float32)
    return np.where(layer.rules.holds(y), 1.0, -1.0).astype(np.float32)


def embed_pool(embed: FusedEmbed, features: list[np.ndarray]) -> np.ndarray:
    """BgnnEmbedPool: concatenated ±1 features [N, sum] -> [max_i v, mean_i v] (2E).
    The max orders -0 below +0 (a max of zero is +0 if any v is +0)."""
    x = np.concatenate(features, axis=1).astype(np.float64)
    a = (x @ embed.signs.T.astype(np.float64)).astype(np.float32)
    s, alpha, mul, add = (embed.params[:, i] for i in range(4))
    t = (a * s).astype(np.float32)
    t = np.where(t >= 0, t, (t * alpha).astype(np.float32))
    v = (t * mul + add).astype(np.float32)
    top = v.max(0)
    plus_zero = ((v == 0) & ~np.signbit(v)).any(0)
    top = np.where(top == 0, np.where(plus_zero, np.float32(0.0), np.float32(-0.0)), top)
    return np.concatenate([top, v.astype(np.float64).mean(0).astype(np.float32)])


def run_front(plan: FusedPlan, points: np.ndarray) -> dict[str, np.ndarray]:
    """Every fused op on one cloud [N, 3]: ``knn<i>``, ``nodes<i>`` (±1) and ``pooled``."""
    out: dict[str, np.ndarray] = {}
    x = points.astype(np.float32)
    features = []
    for i, layer in enumerate(plan.layers):
        idx = l2_knn(x, layer.k) if layer.knn == "l2" else hamming_knn(x, layer.k)
        x = edge_conv(layer, x, idx)
        out[f"knn{i}"], out[f"nodes{i}"] = idx, x
        features.append(x)
    out["pooled"] = embed_pool(plan.embed, features)
    return out
