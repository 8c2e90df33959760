"""Read an OGB node-property dataset (ogbn-products, ogbn-arxiv, ...) from its on-disk
raw format, for users who have downloaded it (nothing is downloaded here).

A dataset folder (e.g. ``dataset/ogbn_products``) holds::

    raw/edge.csv.gz          one edge per line: "src,dst" (0-based node ids)
    raw/node-feat.csv.gz     one line of comma-separated floats per node
    raw/node-label.csv.gz    one class per node (a blank or "nan" line: unlabelled)
    split/<scheme>/train.csv.gz, valid.csv.gz, test.csv.gz   node ids, one per line

Every edge is read in both directions (GraphSAGE's mean over the undirected
neighbourhood, as PyG's ogbn-products with ``add_inverse_edge``). Multi-task labels
(ogbn-proteins' 112 binary tasks) are refused: node classification takes one class.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bgnn_deploy.data.graph import GraphDataset, csr_from_edges
from bgnn_deploy.errors import DataError

__all__ = ["is_ogb_folder", "load_ogb_nodeprop"]

_SPLIT_FILES = {"train": "train", "val": "valid", "test": "test"}


def is_ogb_folder(path: str | Path) -> bool:
    return (Path(path) / "raw" / "edge.csv.gz").is_file()


def _read(path: Path, dtype, *, ndmin: int = 1) -> np.ndarray:
    if not path.is_file():
        raise DataError(
            f"{path} is missing: not an OGB node-property dataset folder",
            hint="point --data at the folder that holds raw/ and split/",
        )
    try:
        with gzip.open(path, "rt") as f:
            lines = [line.strip() for line in f]
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if dtype is np.int64:
        try:
            rows = [[int(v) for v in line.split(",")] for line in lines if line]
        except ValueError as e:
            raise DataError(f"{path} holds a value that is not an integer: {e}") from None
        return (
            np.array(rows, np.int64).reshape(len(rows), -1)
            if ndmin == 2
            else (np.array(rows, np.int64).reshape(-1))
        )
    try:
        return np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=ndmin)
    except ValueError as e:
        raise DataError(f"{path} does not hold comma-separated numbers: {e}") from None


def _labels(path: Path, nodes: int) -> np.ndarray:
    with gzip.open(path, "rt") as f:
        lines = [line.strip() for line in f]
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != nodes:
        raise DataError(f"{path} has {len(lines)} labels for {nodes} nodes")
    if any("," in line for line in lines[:1]):
        raise DataError(
            f"{path} holds several labels per node (a multi-task dataset such as "
            "ogbn-proteins): node classification reads one class per node"
        )
    out = np.full(nodes, -1, np.int64)
    for i, line in enumerate(lines):
        if line and line.lower() != "nan":
            out[i] = int(float(line))
    return out


def load_ogb_nodeprop(folder: str | Path, *, scheme: str | None = None) -> GraphDataset:
    """The dataset in ``folder`` with the split ``scheme`` (the only one there if None)."""
    folder = Path(folder)
    raw = folder / "raw"
    features = _read(raw / "node-feat.csv.gz", np.float32, ndmin=2)
    nodes = features.shape[0]
    edges = _read(raw / "edge.csv.gz", np.int64, ndmin=2)
    if edges.size and (edges.shape[1] != 2 or edges.min() < 0 or edges.max() >= nodes):
        raise DataError(
            f"{raw / 'edge.csv.gz'} must hold 'src,dst' pairs of node ids below {nodes}"
        )
    labels = _labels(raw / "node-label.csv.gz", nodes)
    schemes = sorted(p.name for p in (folder / "split").glob("*") if p.is_dir())
    if scheme is None:
        if len(schemes) != 1:
            raise DataError(
                f"{folder / 'split'} holds split schemes {schemes or 'none'}: one is needed"
            )
        scheme = schemes[0]
    masks = {}
    for split, name in _SPLIT_FILES.items():
        ids = _read(folder / "split" / scheme / f"{name}.csv.gz", np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= nodes):
            raise DataError(f"split {scheme}/{name} names nodes outside 0..{nodes - 1}")
        masks[split] = np.zeros(nodes, bool)
        masks[split][ids] = True
    indptr, indices = csr_from_edges(edges[:, 0], edges[:, 1], nodes, symmetric=True)
    classes = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if classes < 2:
        raise DataError(f"{folder} has fewer than 2 classes among its labels")
    return GraphDataset(features, labels, indptr, indices, masks, classes, str(folder))
