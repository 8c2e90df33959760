from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(f"{line}\n" for line in lines))


@pytest.fixture
def tiny_ogb(tmp_path) -> dict:
    """A 7-node OGB node-property dataset in the on-disk raw format (as the ogb package
    writes ogbn-products: CSV.gz without headers, one split scheme), and its contents."""
    root = tmp_path / "ogbn_tiny"
    rng = np.random.default_rng(0)
    features = rng.normal(size=(7, 3)).astype(np.float32)
    edges = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 6), (6, 3), (1, 0)]  # 1-0 twice
    labels = [0, 0, 0, 1, 1, 1, 1]
    _write(root / "raw" / "edge.csv.gz", [f"{a},{b}" for a, b in edges])
    _write(root / "raw" / "node-feat.csv.gz", [",".join(f"{v:.8e}" for v in r) for r in features])
    _write(root / "raw" / "node-label.csv.gz", [str(v) for v in labels])
    _write(root / "raw" / "num-node-list.csv.gz", ["7"])
    _write(root / "raw" / "num-edge-list.csv.gz", [str(len(edges))])
    split = root / "split" / "sales_ranking"
    _write(split / "train.csv.gz", ["0", "3", "4"])
    _write(split / "valid.csv.gz", ["1", "5"])
    _write(split / "test.csv.gz", ["2", "6"])
    return {"root": root, "features": features, "edges": edges, "labels": labels}
