from __future__ import annotations

import json

import numpy as np
import pytest
import torch

SMALL = [
    "--points",
    "48",
    "--k",
    "6",
    "--widths",
    "8,16",
    "--emb",
    "16",
    "--mlp",
    "16",
    "--classes",
    "3",
    "--samples",
    "12",
    "--test-samples",
    "6",
]


@pytest.fixture
def small_model(cli, tmp_path):
    path = tmp_path / "model.pt"
    result = cli("train", "bin-dgcnn-bf2", "--knn", "hamming", "--epochs", "1", *SMALL, "-o", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint_bytes(tmp_path_factory) -> bytes:
    """The smallest binary DGCNN that converts with every parity check met (BatchNorm
    statistics from data), as checkpoint bytes: tests copy it where they need it."""
    import torch

    from bgnn_deploy.models import ModelConfig, build_model
    from bgnn_deploy.models.calibration import calibrate_on_synthetic
    from bgnn_deploy.models.checkpoint import save_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        knn="hamming",
        num_points=32,
        k=4,
        widths=(8, 8),
        emb=16,
        mlp=(16,),
        classes=3,
    )
    torch.manual_seed(0)
    model = build_model(config)
    calibrate_on_synthetic(model, config.num_points, config.classes, seed=0)
    path = tmp_path_factory.mktemp("tiny") / "model.pt"
    save_checkpoint(model, path)
    return path.read_bytes()


@pytest.fixture(scope="session")
def foreign_models(tmp_path_factory):
    """Model files of formats no frontend reads, each made by its own library: a Keras
    .h5 and .keras, a SavedModel folder, a .tflite, a safetensors file, a .npy, and a
    whole pickled torch module (torch.save(model))."""
    import struct

    from bgnn_deploy.converters.quiet import native_stderr_silenced

    folder = tmp_path_factory.mktemp("foreign")
    with native_stderr_silenced():
        import tensorflow as tf

        inputs = tf.keras.Input((8,))
        keras = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(inputs))
        keras.save(folder / "model.h5")
        keras.save(folder / "model.keras")
        tf.saved_model.save(keras, str(folder / "saved_model"))
        (folder / "model.tflite").write_bytes(
            tf.lite.TFLiteConverter.from_keras_model(keras).convert()
        )
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    np.save(folder / "weights.npy", np.zeros(3, np.float32))
    torch.save(torch.nn.Linear(3, 2), folder / "whole_module.pt")
    return folder


@pytest.fixture
def profiled_measurements():
    """Two measurements as the runner's JSON gives them, for the profile view: an emulated
    one with 14 nodes (one op of 70 characters, one inside a delegate kernel, times of
    four digits before the point) and one whose runtime had no per-node profile."""
    from bgnn_deploy.results.records import Measurement, RunnerResult

    long_op = "Convolution (NHWC, F32) IGEMM with a name long enough to need wrapping"
    nodes = [
        {"index": i, "op": "CONV_2D" if i % 2 else "LceBconv2d", "ms_per_run": 1000.0 + i,
         "calls_per_run": 1.0}
        for i in range(12)
    ] + [
        {"index": 12, "op": long_op, "ms_per_run": 2345.678, "calls_per_run": 1.0},
        {"index": 0, "delegate_kernel": 0, "op": "Add (ND)", "ms_per_run": 0.5,
         "calls_per_run": 1.0},
    ]  # fmt: skip
    ops: dict = {}
    for n in nodes:
        op = ops.setdefault(n["op"], {"ms_per_run": 0.0, "calls_per_run": 0.0})
        op["ms_per_run"] += n["ms_per_run"]
        op["calls_per_run"] += 1
    ops["other (unattributed)"] = {"ms_per_run": 12.5}
    mean = sum(op["ms_per_run"] for op in ops.values())
    latency = {"min": mean, "median": mean, "mean": mean, "p90": mean, "max": mean, "runs": 2}
    base = {"runtime": "1.4.0", "arch": "aarch64", "latency_ms": latency}
    emulated = {**base, "emulated": True, "ops": ops, "nodes": nodes,
                "profile": {"source": "tflite-telemetry"}}  # fmt: skip
    plain = {
        **base,
        "latency_ms": {**latency, "mean": 4.75},
        "ops": {"LceBconv2d": {"ms_per_run": 1.25, "calls_per_run": 4.0},
                "builtin (LiteRT)": {"ms_per_run": 3.5}},
        "profile": {"source": "runner", "unavailable": "no profiler in this library"},
    }  # fmt: skip
    return [
        Measurement(RunnerResult.parse(r), role, f"/m/{role}.tflite", "0" * 64, 1, "qemu")
        for r, role in ((emulated, "binary"), (plain, "float"))
    ]
