"""Synthetic node-classification graphs: planted communities (a stochastic block model)
with informative node features, deterministic per seed.

Each node gets a class (its community) uniformly at random. Edges: every node starts
``degree / 2`` undirected edges; each ends in the node's own community with probability
``p_in`` and in a uniformly drawn other community otherwise, so the edge homophily is
about ``p_in`` and the average degree about ``degree`` (both directions are kept,
duplicates and self-loops dropped). Features: a Gaussian mean per class (unit
variance per dimension) plus Gaussian noise of standard deviation ``noise``, so that a
node's own features classify it only roughly and the mean over its neighbours, mostly
of its class, much better: both the features and the neighbourhoods help.

    >>> g = synthetic_graph(200, degree=10, seed=0)
    >>> g.num_nodes, g.num_classes, round(g.average_degree)
    (200, 8, 9)
"""

from __future__ import annotations

import numpy as np

from bgnn_deploy.data.graph import GraphDataset, csr_from_edges
from bgnn_deploy.errors import DataError

__all__ = ["synthetic_graph"]

SPLIT_FRACTIONS = {"train": 0.5, "val": 0.25}  # the rest is test


def synthetic_graph(
    nodes: int,
    *,
    classes: int = 8,
    features: int = 32,
    degree: float = 20.0,
    p_in: float = 0.6,
    noise: float = 6.0,
    seed: int = 0,
) -> GraphDataset:
    """A planted-community graph of ``nodes`` nodes (see the module's description)."""
    if nodes < 2 * classes:
        raise DataError(
            f"a synthetic graph needs at least 2 nodes per class: {nodes} nodes "
            f"for {classes} classes"
        )
    if not 0 < degree < nodes:
        raise DataError(f"average degree must be in (0, {nodes}), got {degree}")
    if not 0.0 <= p_in <= 1.0:
        raise DataError(f"p_in must be in [0, 1], got {p_in}")
    if classes < 2 or features < 1:
        raise DataError("a synthetic graph needs >= 2 classes and >= 1 feature")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, nodes).astype(np.int64)
    members = [np.flatnonzero(labels == c) for c in range(classes)]
    while any(len(m) == 0 for m in members):  # every community non-empty
        labels[rng.integers(0, nodes)] = next(c for c, m in enumerate(members) if not len(m))
        members = [np.flatnonzero(labels == c) for c in range(classes)]
    sizes = np.array([len(m) for m in members])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    by_class = np.concatenate(members)

    count = round(nodes * degree / 2)
    src = rng.integers(0, nodes, count)
    inside = rng.random(count) < p_in
    shift = rng.integers(1, classes, count)  # another community, uniformly
    target_class = np.where(inside, labels[src], (labels[src] + shift) % classes)
    pick = (rng.random(count) * sizes[target_class]).astype(np.int64)
    dst = by_class[starts[target_class] + pick]
    indptr, indices = csr_from_edges(src, dst, nodes, symmetric=True)

    means = rng.normal(0.0, 1.0, (classes, features))
    # scaled to unit variance per dimension, as normalised real features are
    x = (means[labels] + rng.normal(0.0, noise, (nodes, features))) / np.sqrt(1 + noise**2)
    order = rng.permutation(nodes)
    n_train = int(nodes * SPLIT_FRACTIONS["train"])
    n_val = int(nodes * SPLIT_FRACTIONS["val"])
    masks = {name: np.zeros(nodes, bool) for name in ("train", "val", "test")}
    masks["train"][order[:n_train]] = True
    masks["val"][order[n_train : n_train + n_val]] = True
    masks["test"][order[n_train + n_val :]] = True
    source = (
        f"synthetic-graph(nodes={nodes}, classes={classes}, features={features}, "
        f"degree={degree:g}, seed={seed})"
    )
    return GraphDataset(x.astype(np.float32), labels, indptr, indices, masks, classes, source)
