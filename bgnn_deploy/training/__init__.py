"""Training and evaluation of the reference models (see :mod:`.train`)."""

from bgnn_deploy.training.train import (
    EpochStats,
    Evaluation,
    TrainOptions,
    TrainResult,
    evaluate_from_logits,
    evaluate_model,
    predict_logits,
    train_model,
)

__all__ = [
    "EpochStats",
    "Evaluation",
    "TrainOptions",
    "TrainResult",
    "evaluate_from_logits",
    "evaluate_model",
    "predict_logits",
    "train_model",
]
