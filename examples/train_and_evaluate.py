"""Use bgnn-deploy as a library: train a small binary DGCNN, save it, load it, evaluate it.

    python examples/train_and_evaluate.py [OUTPUT.pt]

Takes about 20 seconds on 2 cores.
"""

from __future__ import annotations

import sys

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig, build_model, parameter_count
from bgnn_deploy.models.checkpoint import load_checkpoint, save_checkpoint
from bgnn_deploy.training import TrainOptions, evaluate_model, train_model


def main(output: str) -> float:
    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        num_points=128,
        k=10,
        widths=(16, 16, 32, 32),
        emb=64,
        mlp=(64,),
        classes=4,
        knn="hamming",
        dropout=0.0,
    )
    train = load_dataset("synthetic", split="train", num_points=128, samples=192, classes=4)
    test = load_dataset("synthetic", split="test", num_points=128, samples=64, classes=4)
    model = build_model(config)
    print(f"{config.arch}: {parameter_count(model):,} parameters")
    train_model(model, train, TrainOptions(epochs=6, batch_size=16, lr=1e-2), test_set=test)
    save_checkpoint(model, output)
    accuracy = evaluate_model(load_checkpoint(output).model, test).accuracy
    print(f"test accuracy {accuracy:.3f} (chance {1 / config.classes:.3f}); saved {output}")
    return accuracy


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "example-model.pt")
