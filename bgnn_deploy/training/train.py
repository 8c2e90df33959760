"""Training from scratch and evaluation of the reference models.

This is the single-stage recipe (cross-entropy with label smoothing, Adam, cosine
schedule, latent weights clipped after each step). The paper's three-stage
distillation (float teacher -> real weights + tanh activations -> binary activations
-> binary weights and activations) plugs in at ``loss_fn``: a distillation recipe
passes a loss that also sees the teacher's logits, and chains three calls of
:func:`train_model` with the stage's quantization switched in the ``ModelConfig``.

    >>> from bgnn_deploy.models import ModelConfig, build_model
    >>> from bgnn_deploy.data import load_dataset
    >>> cfg = ModelConfig(arch="bin-dgcnn-bf1", num_points=32, k=4, widths=(8, 8), emb=16,
    ...                   mlp=(16,), classes=3)
    >>> data = load_dataset("synthetic", split="train", num_points=32, samples=6, classes=3)
    >>> result = train_model(build_model(cfg), data, TrainOptions(epochs=1, batch_size=3))
    >>> len(result.history)
    1
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from bgnn_deploy.data.dataset import PointCloudDataset
from bgnn_deploy.models.dgcnn import DGCNN

__all__ = [
    "EpochStats",
    "Evaluation",
    "TrainOptions",
    "TrainResult",
    "evaluate_model",
    "train_model",
]

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# progress(epoch, step, steps_per_epoch, running_loss)
ProgressFn = Callable[[int, int, int, float], None]


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    loss: float
    train_accuracy: float
    test_accuracy: float | None


# on_epoch(stats, seconds the epoch took, its test evaluation included)
EpochFn = Callable[[EpochStats, float], None]


@dataclass
class TrainResult:
    history: list[EpochStats] = field(default_factory=list)

    @property
    def final(self) -> EpochStats | None:
        return self.history[-1] if self.history else None


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    samples: int
    confusion: np.ndarray  # (classes, classes): rows true, columns predicted
    logits: np.ndarray  # (samples, classes) float32, in data-set order

    @property
    def per_class_accuracy(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / totals, np.nan)


def cross_entropy_loss(
    logits: torch.Tensor, labels: torch.Tensor, _points: torch.Tensor, smoothing: float = 0.2
) -> torch.Tensor:
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)


def train_model(
    model: DGCNN,
    train_set: PointCloudDataset,
    options: TrainOptions,
    *,
    test_set: PointCloudDataset | None = None,
    loss_fn: LossFn | None = None,
    progress: ProgressFn | None = None,
    on_epoch: EpochFn | None = None,
) -> TrainResult:
    """Train ``model`` in place; evaluate on ``test_set`` after every epoch if given.

    ``progress`` hears every step, ``on_epoch`` every finished epoch (with its test
    accuracy) as soon as it ends."""
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    if loss_fn is None:

        def loss_fn(logits, labels, points):
            return cross_entropy_loss(logits, labels, points, options.label_smoothing)

    optimizer = torch.optim.Adam(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    batch = min(options.batch_size, len(train_set))
    steps = max(1, len(train_set) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, options.epochs * steps), eta_min=options.lr * 0.01
    )
    result = TrainResult()
    for epoch in range(1, options.epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        batches = train_set.batches(batch, shuffle=True, augmented=True, rng=rng, drop_last=True)
        for step, (pts, labels) in enumerate(batches, start=1):
            points, target = torch.from_numpy(pts), torch.from_numpy(labels)
            logits = model(points)
            loss = loss_fn(logits, target, points)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            model.clip_latent_weights_()
            total_loss += loss.item() * len(labels)
            correct += int((logits.argmax(1) == target).sum())
            seen += len(labels)
            if progress:
                progress(epoch, step, steps, total_loss / seen)
        test_acc = evaluate_model(model, test_set).accuracy if test_set is not None else None
        result.history.append(EpochStats(epoch, total_loss / seen, correct / seen, test_acc))
        if on_epoch:
            on_epoch(result.history[-1], time.perf_counter() - epoch_started)
    model.eval()
    return result


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module, dataset: PointCloudDataset, batch_size: int = 16
) -> np.ndarray:
    """Logits ``(samples, classes)`` in data-set order, in eval mode."""
    model.eval()
    out = [model(torch.from_numpy(pts)).numpy() for pts, _ in dataset.batches(batch_size)]
    return np.concatenate(out).astype(np.float32)


def evaluate_from_logits(logits: np.ndarray, labels: np.ndarray, classes: int) -> Evaluation:
    """Accuracy and confusion matrix of any implementation's logits (PyTorch, TFLite, board)."""
    preds = logits.argmax(axis=1)
    size = max(classes, logits.shape[1], int(labels.max()) + 1 if labels.size else 0)
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (labels, preds), 1)
    accuracy = float((preds == labels).mean()) if labels.size else float("nan")
    return Evaluation(accuracy, int(labels.size), confusion, logits)


def evaluate_model(
    model: torch.nn.Module, dataset: PointCloudDataset, batch_size: int = 16
) -> Evaluation:
    logits = predict_logits(model, dataset, batch_size)
    return evaluate_from_logits(logits, dataset.labels, dataset.num_classes)
