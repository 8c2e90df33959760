"""train_model tells its caller about each epoch as it ends, not only at the end."""

from __future__ import annotations

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.training import TrainOptions, train_model


def test_each_epoch_is_reported_between_its_steps_and_the_next():
    cfg = ModelConfig(
        arch="bin-dgcnn-bf1", num_points=32, k=4, widths=(8, 8), emb=16, mlp=(16,), classes=3
    )
    data = load_dataset("synthetic", split="train", num_points=32, samples=6, classes=3)
    test = load_dataset("synthetic", split="test", num_points=32, samples=3, classes=3)
    log = []
    result = train_model(
        build_model(cfg),
        data,
        TrainOptions(epochs=3, batch_size=3),
        test_set=test,
        progress=lambda epoch, step, steps, loss: log.append(("step", epoch)),
        on_epoch=lambda stats, seconds: log.append(("epoch", stats, seconds)),
    )
    ends = [entry for entry in log if entry[0] == "epoch"]
    assert [entry[1] for entry in ends] == result.history  # the same figures, in order
    assert all(entry[2] > 0 for entry in ends)
    # every step of epoch e comes before its report, every step of e + 1 after it
    order = [entry[1] if entry[0] == "step" else entry[1].epoch + 0.5 for entry in log]
    assert order == sorted(order) and order.count(1) == order.count(2) == 2
    assert all(entry[1].test_accuracy is not None for entry in ends)
