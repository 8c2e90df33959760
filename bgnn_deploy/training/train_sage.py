"""Training and evaluation of GraphSAGE node classifiers on one graph.

Mini-batches of training nodes with sampled neighbourhoods
(:class:`~bgnn_deploy.training.sampling.NeighbourSampler`), AdamW, a cosine schedule,
latent weights clamped after each step; after every epoch the model is evaluated on the
validation nodes with layer-wise full-neighbourhood inference and the best epoch's
weights are kept (as the paper's scripts do). Two recipes:

- ``single``: the model trains directly (bin-sage with binary weights and activations);
- ``paper``: the paper's staged distillation for bin-sage. A float ``sage`` teacher is
  trained first, then three students, each from scratch and distilled from the
  previous stage (loss ``(1 - alpha) CE + alpha T^2 KL(teacher/T || student/T)``,
  T=2, alpha=0.1): tanh activations with real weights, then binary activations with
  real weights, then binary weights and activations.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from bgnn_deploy.data.graph import GraphDataset
from bgnn_deploy.errors import ConfigError, unknown_name
from bgnn_deploy.models.sage import SAGE, build_sage
from bgnn_deploy.models.sage_config import SageConfig
from bgnn_deploy.training.sampling import NeighbourSampler, full_graph_block
from bgnn_deploy.training.train import EpochStats, Evaluation, TrainResult, evaluate_from_logits

__all__ = [
    "RECIPES",
    "SageTrainOptions",
    "StageResult",
    "distillation_loss",
    "evaluate_sage",
    "predict_node_logits",
    "train_sage",
    "train_sage_recipe",
]

RECIPES = ("single", "paper")
# progress(stage, epoch, step, steps_per_epoch, running_loss)
SageProgressFn = Callable[[str, int, int, int, float], None]
# on_epoch(stage, the epoch's statistics, its seconds): as each epoch ends
SageEpochFn = Callable[[str, EpochStats, float], None]


@dataclass(frozen=True)
class SageTrainOptions:
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 5e-3
    weight_decay: float = 1e-5
    fanouts: tuple[int, ...] = (15, 10, 5)
    recipe: str = "single"
    kd_temperature: float = 2.0
    kd_alpha: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise unknown_name("recipe", self.recipe, RECIPES)
        if not self.fanouts or min(self.fanouts) < 1:
            raise ConfigError(f"fan-outs must be integers >= 1, got {list(self.fanouts)}")


@dataclass
class StageResult:
    """One trained stage: its name (``sage``, ``tanh``, ``binary-activations``,
    ``binary`` or ``single``), the configuration and history, the best validation
    accuracy and that epoch's test accuracy."""

    name: str
    config: SageConfig
    result: TrainResult
    val_accuracy: float
    test_accuracy: float
    model: SAGE = field(repr=False)


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, *, t: float, alpha: float
) -> torch.Tensor:
    """``(1 - alpha) * CE(student, labels) + alpha * T^2 * KL(softmax(teacher / T) ||
    softmax(student / T))`` averaged over the batch (Hinton et al.'s knowledge distillation,
    as the paper's products script)."""
    ce = F.cross_entropy(student, labels)
    kl = F.kl_div(
        F.log_softmax(student / t, dim=1),
        F.log_softmax(teacher / t, dim=1),
        log_target=True,
        reduction="batchmean",
    )
    return (1 - alpha) * ce + alpha * t * t * kl


@torch.no_grad()
def predict_node_logits(model: SAGE, graph: GraphDataset) -> np.ndarray:
    """Logits of every node (N x classes, float32) by layer-wise full-graph inference."""
    model.eval()
    x = torch.from_numpy(graph.features)
    return model.inference(x, full_graph_block(graph)).numpy().astype(np.float32)


def _evaluate(logits: np.ndarray, graph: GraphDataset, split: str) -> Evaluation:
    nodes = graph.nodes(split)
    return evaluate_from_logits(logits[nodes], graph.labels[nodes], graph.num_classes)


def evaluate_sage(model: SAGE, graph: GraphDataset, split: str = "test") -> Evaluation:
    """Accuracy and confusion on the labelled nodes of ``split``."""
    return _evaluate(predict_node_logits(model, graph), graph, split)


def train_sage(
    model: SAGE,
    graph: GraphDataset,
    options: SageTrainOptions,
    *,
    teacher: SAGE | None = None,
    stage: str = "single",
    progress: SageProgressFn | None = None,
    on_epoch: SageEpochFn | None = None,
) -> tuple[TrainResult, float, float]:
    """Train ``model`` in place (distilled from ``teacher`` if given) and leave it with
    the weights of its best validation epoch. Returns the history, that epoch's
    validation accuracy and its test accuracy. ``on_epoch(stage, stats, seconds)`` is
    called as each epoch ends."""
    torch.manual_seed(options.seed)
    if len(options.fanouts) != model.config.layers:
        raise ConfigError(
            f"{len(options.fanouts)} fan-outs for {model.config.layers} layers",
            hint="give one fan-out per layer, e.g. --fanouts 15,10,5",
        )
    rng = np.random.default_rng(options.seed)
    sampler = NeighbourSampler(graph.indptr, graph.indices, options.fanouts, options.seed)
    features = torch.from_numpy(graph.features)
    labels = torch.from_numpy(graph.labels)
    train_nodes = graph.nodes("train")
    batch = max(1, min(options.batch_size, len(train_nodes)))
    steps = max(1, -(-len(train_nodes) // batch))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, options.epochs * steps), eta_min=options.lr * 0.01
    )
    if teacher is not None:
        teacher.eval()
    result = TrainResult()
    best_val, best_test, best_state = -1.0, float("nan"), None
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = rng.permutation(train_nodes)
        total_loss, correct, seen = 0.0, 0, 0
        for step, start in enumerate(range(0, len(order), batch), start=1):
            targets = order[start : start + batch]
            n_id, blocks = sampler.sample(targets)
            x = features[torch.from_numpy(n_id)]
            y = labels[torch.from_numpy(targets)]
            logits = model(x, blocks)
            if teacher is None:
                loss = F.cross_entropy(logits, y)
            else:
                with torch.no_grad():
                    reference = teacher(x, blocks)
                loss = distillation_loss(
                    logits, reference, y, t=options.kd_temperature, alpha=options.kd_alpha
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            model.clip_latent_weights_()
            total_loss += loss.item() * len(targets)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(targets)
            if progress:
                progress(stage, epoch, step, steps, total_loss / seen)
        logits_all = predict_node_logits(model, graph)
        val = _evaluate(logits_all, graph, "val").accuracy
        result.history.append(EpochStats(epoch, total_loss / seen, correct / seen, val))
        if on_epoch:
            on_epoch(stage, result.history[-1], time.perf_counter() - started)
        if val > best_val:
            best_val = val
            best_test = _evaluate(logits_all, graph, "test").accuracy
            best_state = copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    else:  # no epochs: the initial model
        logits_all = predict_node_logits(model, graph)
        best_val = _evaluate(logits_all, graph, "val").accuracy
        best_test = _evaluate(logits_all, graph, "test").accuracy
    model.eval()
    return result, best_val, best_test


def _paper_stages(config: SageConfig) -> list[tuple[str, SageConfig]]:
    teacher = config.replace(arch="sage", binary_weights=False, activations="real")
    return [
        ("sage", teacher),
        ("tanh", config.replace(binary_weights=False, activations="tanh")),
        ("binary-activations", config.replace(binary_weights=False, activations="binary")),
        ("binary", config.replace(binary_weights=True, activations="binary")),
    ]


def train_sage_recipe(
    config: SageConfig,
    graph: GraphDataset,
    options: SageTrainOptions,
    *,
    progress: SageProgressFn | None = None,
    on_epoch: SageEpochFn | None = None,
) -> list[StageResult]:
    """Train ``config`` by ``options.recipe``; the last stage is the model asked for."""
    if options.recipe == "single":
        stages = [("single", config)]
    elif not config.is_binary:
        raise ConfigError(
            "the paper recipe distils a binary student: it trains bin-sage, not sage",
            hint="use --recipe single for sage",
        )
    else:
        stages = _paper_stages(config)
    out: list[StageResult] = []
    teacher = None
    for name, stage_config in stages:
        torch.manual_seed(options.seed)
        model = build_sage(stage_config)
        result, val, test = train_sage(
            model,
            graph,
            options,
            teacher=teacher,
            stage=name,
            progress=progress,
            on_epoch=on_epoch,
        )
        out.append(StageResult(name, stage_config, result, val, test, model))
        teacher = model
    return out
