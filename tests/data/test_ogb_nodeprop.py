"""The OGB node-property reader on a tiny dataset written in the on-disk raw format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from bgnn_deploy.data.graph_source import GraphSource, load_graph
from bgnn_deploy.data.ogb_nodeprop import load_ogb_nodeprop
from bgnn_deploy.errors import DataError


def test_reads_features_labels_edges_and_splits(tiny_ogb):
    g = load_ogb_nodeprop(tiny_ogb["root"])
    np.testing.assert_allclose(g.features, tiny_ogb["features"], rtol=1e-6)
    assert g.labels.tolist() == tiny_ogb["labels"] and g.num_classes == 2
    neighbours = {i: set(g.indices[g.indptr[i] : g.indptr[i + 1]].tolist()) for i in range(7)}
    expected = {i: set() for i in range(7)}
    for a, b in tiny_ogb["edges"]:  # read in both directions, duplicates merged
        expected[a].add(b)
        expected[b].add(a)
    assert neighbours == expected
    assert g.nodes("train").tolist() == [0, 3, 4]
    assert g.nodes("val").tolist() == [1, 5] and g.nodes("test").tolist() == [2, 6]


def test_graph_source_reads_a_folder(tiny_ogb):
    assert load_graph(GraphSource(data=str(tiny_ogb["root"]))).num_nodes == 7


def test_multi_task_labels_are_refused(tiny_ogb):
    with gzip.open(tiny_ogb["root"] / "raw" / "node-label.csv.gz", "wt") as f:
        f.write("".join("0,1\n" for _ in range(7)))
    with pytest.raises(DataError, match="several labels per node"):
        load_ogb_nodeprop(tiny_ogb["root"])


def test_missing_files_and_bad_ids_are_named(tiny_ogb, tmp_path):
    (tiny_ogb["root"] / "split" / "sales_ranking" / "test.csv.gz").unlink()
    with pytest.raises(DataError, match=r"test\.csv\.gz is missing"):
        load_ogb_nodeprop(tiny_ogb["root"])
    with gzip.open(tiny_ogb["root"] / "raw" / "edge.csv.gz", "wt") as f:
        f.write("0,9\n")
    with pytest.raises(DataError, match="node ids below 7"):
        load_ogb_nodeprop(tiny_ogb["root"])
    with pytest.raises(DataError, match="not an OGB node-property dataset folder"):
        load_graph(GraphSource(data=str(tmp_path)))
