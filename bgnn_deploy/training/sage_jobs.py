"""The train and evaluate jobs of the GraphSAGE family: graph + model + recipe + checkpoint.

>>> import tempfile, os
>>> from bgnn_deploy.data.graph_source import GraphSource
>>> from bgnn_deploy.models.sage_config import SageConfig
>>> out = os.path.join(tempfile.mkdtemp(), "m.pt")
>>> source = GraphSource(nodes=64, classes=4, features=8, degree=4)
>>> cfg = SageConfig(hidden=8, layers=2)
>>> report = train_sage_checkpoint(cfg, source, out, SageTrainOptions(epochs=0, fanouts=(3, 3)))
>>> os.path.exists(out), report.test_nodes
(True, 16)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgnn_deploy import __version__
from bgnn_deploy.data.graph import GraphDataset
from bgnn_deploy.data.graph_source import SYNTHETIC_GRAPH, GraphSource, load_graph
from bgnn_deploy.errors import DataError
from bgnn_deploy.models.checkpoint import LoadedModel, save_checkpoint
from bgnn_deploy.models.sage_config import SageConfig
from bgnn_deploy.outputs import check_output_file, output_errors
from bgnn_deploy.training.train import Evaluation
from bgnn_deploy.training.train_sage import (
    SageEpochFn,
    SageProgressFn,
    SageTrainOptions,
    StageResult,
    evaluate_sage,
    train_sage_recipe,
)

__all__ = [
    "SageTrainReport",
    "evaluate_sage_checkpoint",
    "majority_rate",
    "train_sage_checkpoint",
]


@dataclass(frozen=True)
class SageTrainReport:
    path: Path
    config: SageConfig
    stages: list[StageResult]
    graph_source: str
    train_nodes: int
    test_nodes: int
    test_accuracy: float
    chance: float  # the majority class's share of the test nodes


def majority_rate(graph: GraphDataset, split: str = "test") -> float:
    """Accuracy of always answering the most frequent class of ``split``: chance."""
    labels = graph.labels[graph.nodes(split)]
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else float("nan")


def train_sage_checkpoint(
    config: SageConfig,
    source: GraphSource,
    output: str | os.PathLike,
    options: SageTrainOptions,
    *,
    progress: SageProgressFn | None = None,
    on_epoch: SageEpochFn | None = None,
    overwrite: bool = False,
) -> SageTrainReport:
    """Train ``config`` on the graph of ``source`` by ``options.recipe`` and save the last
    stage's model. The model's input width and classes come from the graph."""
    inputs = [] if source.data == SYNTHETIC_GRAPH else [source.data]
    output = check_output_file(output, overwrite=overwrite, inputs=inputs)
    graph = load_graph(source)
    config = config.replace(in_channels=graph.num_features, classes=graph.num_classes)
    stages = train_sage_recipe(config, graph, options, progress=progress, on_epoch=on_epoch)
    final = stages[-1]
    meta: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "bgnn_deploy": __version__,
        "data": graph.source,
        "graph": source.to_dict(),
        "options": dataclasses.asdict(options),
        "epochs": options.epochs,
        "val_accuracy": final.val_accuracy,
        "test_accuracy": final.test_accuracy,
        "stages": [
            {
                "name": s.name,
                "val_accuracy": s.val_accuracy,
                "test_accuracy": s.test_accuracy,
                "history": [dataclasses.asdict(h) for h in s.result.history],
            }
            for s in stages
        ],
    }
    check_output_file(output, overwrite=overwrite, inputs=inputs)  # minutes may have passed
    with output_errors(output):
        save_checkpoint(final.model, output, meta=meta)
    return SageTrainReport(
        output,
        final.config,
        stages,
        graph.source,
        len(graph.nodes("train")),
        len(graph.nodes("test")),
        final.test_accuracy,
        majority_rate(graph),
    )


def evaluate_sage_checkpoint(
    loaded: LoadedModel, data: str | None, *, split: str = "test", seed: int | None = None
) -> tuple[Evaluation, GraphDataset]:
    """Accuracy of a GraphSAGE checkpoint on the ``split`` nodes of a graph: ``data``, or
    the graph it was trained on (a synthetic one is rebuilt from the checkpoint's facts)."""
    stored = loaded.meta.get("graph")
    if data is None:
        if stored is None:
            raise DataError(
                "this checkpoint does not say which graph it was trained on",
                hint=f"give --data {SYNTHETIC_GRAPH} (with its sizes) or an OGB dataset folder",
            )
        source = GraphSource.from_dict(stored)
    elif data == SYNTHETIC_GRAPH and stored and stored.get("data") == SYNTHETIC_GRAPH:
        source = GraphSource.from_dict(stored)
    else:
        source = GraphSource(data=data)
    if seed is not None:
        source = dataclasses.replace(source, seed=seed)
    graph = load_graph(source)
    cfg = loaded.config
    if graph.num_features != cfg.in_channels or graph.num_classes > cfg.classes:
        raise DataError(
            f"{graph.source} has {graph.num_features} features and {graph.num_classes} "
            f"classes; the model takes {cfg.in_channels} features and {cfg.classes} classes"
        )
    if split not in graph.masks:
        raise DataError(f"unknown split '{split}' (valid: train, val, test)")
    return evaluate_sage(loaded.model, graph, split), graph
