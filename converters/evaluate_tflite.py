"""Accuracy of a converted .tflite on a data set, through the host interpreter.

LCE's interpreter runs Lce ops and every builtin, so it serves binary and float
models alike; ``BgnnHammingKnn`` exists only in bgnn-deploy's native runner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bgnn_deploy.converters.knn_fusion import FUSED_KNN_OP
from bgnn_deploy.converters.tflite_model import summarize
from bgnn_deploy.converters.tflite_runtime import HostInterpreter

from bgnn_deploy.data import PointCloudDataset, load_dataset
from bgnn_deploy.errors import CheckpointError, ConversionError
from bgnn_deploy.training.train import Evaluation, evaluate_from_logits

__all__ = ["evaluate_tflite", "is_tflite"]


def is_tflite(path: str | Path) -> bool:
    """True for a file with the TFLite identifier (whatever its name)."""
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def evaluate_tflite(
    path: str | Path,
    data: str,
    *,
    split: str = "test",
    samples: int | None = None,
    seed: int = 0,
) -> tuple[Evaluation, PointCloudDataset, dict]:
    """Run every cloud through the flatbuffer; returns the evaluation, data and model facts."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    flatbuffer = path.read_bytes()
    summary = summarize(flatbuffer)
    if FUSED_KNN_OP in summary.ops:
        raise ConversionError(
            f"{path} uses the {FUSED_KNN_OP} op, which only bgnn-deploy's native runner has",
            hint="evaluate the --knn builtin conversion of the same model on the host",
        )
    if len(summary.inputs) != 1 or len(summary.inputs[0]["shape"]) != 3:
        raise ConversionError(
            f"{path}: expected one input of shape [1, N, 3], got {summary.inputs}"
        )
    num_points = summary.inputs[0]["shape"][1]
    classes = summary.outputs[0]["shape"][-1]
    dataset = load_dataset(
        data, split=split, num_points=num_points, samples=samples, classes=classes, seed=seed
    )
    interp = HostInterpreter(flatbuffer, lce=True)
    name = "logits" if "logits" in interp.output_names else interp.output_names[0]
    logits = np.concatenate([interp.run(cloud[None])[name] for cloud in dataset.points])
    facts = {"num_points": num_points, "classes": classes, "ops": summary.ops}
    return evaluate_from_logits(logits.astype(np.float32), dataset.labels, classes), dataset, facts
