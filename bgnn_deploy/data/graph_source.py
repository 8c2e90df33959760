"""Where a node-classification graph comes from: ``synthetic-graph`` (generated, with
its sizes) or an OGB node-property dataset folder.

    >>> spec = GraphSource("synthetic-graph", nodes=100, classes=4, degree=6)
    >>> load_graph(spec).num_nodes
    100
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgnn_deploy.data.graph import GraphDataset
from bgnn_deploy.data.ogb_nodeprop import is_ogb_folder, load_ogb_nodeprop
from bgnn_deploy.data.synthetic_graph import synthetic_graph
from bgnn_deploy.errors import DataError

__all__ = ["SYNTHETIC_GRAPH", "GraphSource", "load_graph"]

SYNTHETIC_GRAPH = "synthetic-graph"


@dataclass(frozen=True)
class GraphSource:
    """``data`` is ``synthetic-graph`` or an OGB dataset folder; the sizes apply to the
    synthetic graph only (a dataset has its own). Checkpoints keep it in their ``meta``,
    so that ``evaluate`` rebuilds the same graph."""

    data: str = SYNTHETIC_GRAPH
    nodes: int = 10000
    classes: int = 8
    features: int = 32
    degree: float = 20.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSource:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def load_graph(source: GraphSource) -> GraphDataset:
    if source.data == SYNTHETIC_GRAPH:
        return synthetic_graph(
            source.nodes,
            classes=source.classes,
            features=source.features,
            degree=source.degree,
            seed=source.seed,
        )
    path = Path(source.data)
    if not path.exists():
        raise DataError(
            f"graph data not found: {source.data}",
            hint=f"use --data {SYNTHETIC_GRAPH} or an OGB node-property dataset folder "
            "(the one holding raw/ and split/)",
        )
    if not is_ogb_folder(path):
        raise DataError(
            f"{path} is not an OGB node-property dataset folder (no raw/edge.csv.gz)",
            hint="point --data at the folder that holds raw/ and split/",
        )
    return load_ogb_nodeprop(path)
