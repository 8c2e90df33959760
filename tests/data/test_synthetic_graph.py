"""Synthetic planted-community graphs: determinism, community structure, informative
features, a clean CSR."""

from __future__ import annotations

import numpy as np
import pytest

from bgnn_deploy.data.graph import homophily
from bgnn_deploy.data.synthetic_graph import synthetic_graph
from bgnn_deploy.errors import DataError


def test_same_seed_same_graph_other_seed_other_graph():
    a, b = synthetic_graph(300, degree=8, seed=4), synthetic_graph(300, degree=8, seed=4)
    for field in ("features", "labels", "indptr", "indices"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    c = synthetic_graph(300, degree=8, seed=5)
    assert not np.array_equal(a.labels, c.labels)


@pytest.mark.parametrize(("nodes", "degree"), [(500, 5), (2000, 20), (3000, 50)])
def test_csr_is_symmetric_without_self_loops_at_the_asked_degree(nodes, degree):
    g = synthetic_graph(nodes, degree=degree, seed=1)
    dst = np.repeat(np.arange(g.num_nodes), np.diff(g.indptr))
    pairs = set(zip(dst.tolist(), g.indices.tolist(), strict=True))
    assert all((b, a) in pairs for a, b in pairs)  # undirected: both directions
    assert not np.any(dst == g.indices)
    assert len(pairs) == g.num_edges  # no duplicates
    # duplicates merged: a little under the asked degree, more so on small dense graphs
    assert 0.85 * degree <= g.average_degree <= degree


def test_communities_are_planted():
    g = synthetic_graph(2000, classes=5, degree=20, p_in=0.8, seed=0)
    # edge homophily, counted edge by edge here
    same = sum(
        g.labels[i] == g.labels[j]
        for i in range(g.num_nodes)
        for j in g.indices[g.indptr[i] : g.indptr[i + 1]]
    )
    measured = same / g.num_edges
    assert measured == pytest.approx(homophily(g.indptr, g.indices, g.labels))
    assert 0.75 < measured < 0.85  # about p_in, far above 1/5 for random edges
    low = synthetic_graph(2000, classes=5, degree=20, p_in=0.0, seed=0)
    assert homophily(low.indptr, low.indices, low.labels) < 0.01


def _nearest_mean_accuracy(x: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray):
    classes = labels.max() + 1
    means = np.stack([x[train][labels[train] == c].mean(0) for c in range(classes)])
    pred = np.argmin(((x[test][:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    return float(np.mean(pred == labels[test]))


def test_features_and_neighbourhoods_are_both_informative():
    g = synthetic_graph(3000, classes=8, degree=20, p_in=0.7, noise=4.0, seed=2)
    train, test = g.nodes("train"), g.nodes("test")
    own = _nearest_mean_accuracy(g.features, g.labels, train, test)
    neighbour_mean = np.stack(
        [g.features[g.indices[g.indptr[i] : g.indptr[i + 1]]].mean(0) for i in range(3000)]
    )
    both = _nearest_mean_accuracy(
        np.concatenate([g.features, neighbour_mean], 1), g.labels, train, test
    )
    chance = np.bincount(g.labels[test]).max() / len(test)
    assert own > chance + 0.2  # features alone help ...
    assert both > own + 0.1  # ... and the neighbourhood helps more


def test_splits_partition_the_nodes():
    g = synthetic_graph(400, seed=0)
    total = g.masks["train"].astype(int) + g.masks["val"] + g.masks["test"]
    assert np.all(total == 1)
    assert len(g.nodes("train")) == 200 and len(g.nodes("val")) == 100


def test_impossible_sizes_are_refused():
    with pytest.raises(DataError, match="at least 2 nodes per class"):
        synthetic_graph(10, classes=8)
    with pytest.raises(DataError, match="average degree"):
        synthetic_graph(100, degree=0)
