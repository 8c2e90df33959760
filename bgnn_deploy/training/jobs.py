"""The train and evaluate jobs behind the CLI: data + model + loop + checkpoint.

>>> import tempfile, os
>>> from bgnn_deploy.models import ModelConfig
>>> out = os.path.join(tempfile.mkdtemp(), "m.pt")
>>> cfg = ModelConfig(num_points=32, k=4, widths=(8, 8), emb=16, mlp=(16,), classes=3)
>>> report = train_checkpoint(cfg, "synthetic", out, TrainOptions(epochs=0), samples=6)
>>> os.path.exists(out), report.test_accuracy is not None
(True, True)
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgnn_deploy import __version__
from bgnn_deploy.data import PointCloudDataset, load_dataset
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.models.checkpoint import LoadedModel, load_checkpoint, save_checkpoint
from bgnn_deploy.outputs import check_output_file, output_errors
from bgnn_deploy.progress import StageFn, Stages
from bgnn_deploy.training.train import (
    EpochFn,
    Evaluation,
    ProgressFn,
    TrainOptions,
    TrainResult,
    evaluate_model,
    train_model,
)

__all__ = ["TrainReport", "default_lr", "evaluate_checkpoint", "train_checkpoint"]


def default_lr(arch: str) -> float:
    """Binary networks need larger steps to flip latent-weight signs (measured on the
    synthetic set: 1e-2 reaches in 6 epochs what 1e-3 does not in 20)."""
    return 1e-3 if arch == "dgcnn" else 1e-2


@dataclass(frozen=True)
class TrainReport:
    path: Path
    config: ModelConfig
    result: TrainResult
    train_samples: int
    test_samples: int
    test_accuracy: float | None


def train_checkpoint(
    config: ModelConfig,
    data: str,
    output: str | os.PathLike,
    options: TrainOptions,
    *,
    samples: int | None = None,
    test_samples: int | None = None,
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
    stages: StageFn | None = None,
    overwrite: bool = False,
) -> TrainReport:
    """Train ``config`` on ``data`` (``synthetic`` or ModelNet40 HDF5) and save a checkpoint.

    With ``options.epochs == 0`` the initialised, untrained model is written. An existing
    ``output`` is replaced only with ``overwrite=True`` (checked before training and again
    before writing); a folder or the data file itself never is
    (:func:`bgnn_deploy.outputs.check_output_file`).

    ``stages`` hears each stage start and end (:mod:`bgnn_deploy.progress`): loading
    data, building the model, training, the final evaluation, saving; ``progress`` and
    ``on_epoch`` are passed to :func:`train_model`. Without them training is silent.
    """
    steps = Stages(stages)
    output = check_output_file(output, overwrite=overwrite, inputs=[data])
    with steps.stage("loading data"):
        train_set, test_set = (
            load_dataset(
                data,
                split=split,
                num_points=config.num_points,
                samples=count,
                classes=config.classes,
                seed=options.seed,
            )
            for split, count in (("train", samples), ("test", test_samples))
        )
    with steps.stage("building the model"):
        model = build_model(config)
    with steps.stage(f"training ({options.epochs} epochs)"):
        result = train_model(
            model, train_set, options, test_set=test_set, progress=progress, on_epoch=on_epoch
        )
    with steps.stage(f"evaluating on {len(test_set)} test clouds"):
        test_accuracy = evaluate_model(model, test_set).accuracy
    meta: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "bgnn_deploy": __version__,
        "data": train_set.source,
        "class_names": list(train_set.class_names),
        "options": dataclasses.asdict(options),
        "epochs": options.epochs,
        "test_accuracy": test_accuracy,
        "history": [dataclasses.asdict(h) for h in result.history],
    }
    check_output_file(output, overwrite=overwrite, inputs=[data])  # minutes may have passed
    with output_errors(output), steps.stage("saving the checkpoint"):
        save_checkpoint(model, output, meta=meta)
    return TrainReport(output, config, result, len(train_set), len(test_set), test_accuracy)


def evaluate_checkpoint(
    path: str | os.PathLike,
    data: str,
    *,
    arch: str | None = None,
    sizes: dict[str, Any] | None = None,
    split: str = "test",
    samples: int | None = None,
    seed: int = 0,
    loaded: LoadedModel | None = None,
) -> tuple[Evaluation, LoadedModel, PointCloudDataset]:
    """Accuracy and confusion of a checkpoint (ours or the paper's) on a data set;
    ``loaded`` is the checkpoint when the caller has already read it."""
    loaded = loaded or load_checkpoint(path, arch=arch, sizes=sizes)
    cfg = loaded.config
    dataset = load_dataset(
        data,
        split=split,
        num_points=cfg.num_points,
        samples=samples,
        classes=cfg.classes,
        seed=seed,
    )
    return evaluate_model(loaded.model, dataset), loaded, dataset
