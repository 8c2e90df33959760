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
