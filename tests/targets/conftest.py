from __future__ import annotations

import os

import pytest

from tests.targets.sshd import start_board


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """A small BinDGCNN converted twice: `builtin/` (MATMUL/TOPK k-NN) and `fused/`
    (BgnnHammingKnn), each with binary.tflite and float.tflite. Tests only read it."""
    from bgnn_deploy.converters.convert import convert_checkpoint

    from bgnn_deploy.models import ModelConfig
    from tests.converters.conftest import calibrated_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        knn="hamming",
        num_points=64,
        k=6,
        widths=(16, 24, 32),
        emb=32,
        mlp=(24,),
        classes=4,
    )
    root = tmp_path_factory.mktemp("runner")
    calibrated_checkpoint(root / "m.pt", config)
    convert_checkpoint(root / "m.pt", root / "builtin", samples=1)
    convert_checkpoint(root / "m.pt", root / "fused", samples=1, knn="fused")
    return root


@pytest.fixture(scope="session")
def converted_256(tmp_path_factory):
    """A BinDGCNN of 256 points (k=10), `--knn fused`: big enough that our kernels split
    their rows over threads (2,560 edges per EdgeConv, 256 k-NN rows), which the small
    one above is not. Its folder holds binary.tflite and float.tflite."""
    from bgnn_deploy.converters.convert import convert_checkpoint

    from bgnn_deploy.models import ModelConfig
    from tests.converters.conftest import calibrated_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        knn="hamming",
        num_points=256,
        k=10,
        widths=(16, 24, 32),
        emb=32,
        mlp=(24,),
        classes=4,
    )
    root = tmp_path_factory.mktemp("runner256")
    calibrated_checkpoint(root / "m.pt", config)
    convert_checkpoint(root / "m.pt", root / "fused", samples=1, knn="fused", verify=False)
    return root / "fused"


@pytest.fixture(scope="session")
def qemu_build():
    """The aarch64 runner and TFLite C API library, run under qemu-user (`make test`
    installs qemu-user and the arm64 cross libraries)."""
    from bgnn_deploy.targets.build import build_runner

    return build_runner("qemu-aarch64")


@pytest.fixture
def pool_threads():
    """Sets the core library's thread count (``pool_threads(3)``); back to 1 afterwards,
    since the library is shared by every test of the session."""
    from tests.targets.kernels import library

    lib = library()
    yield lib.bgnn_parallel_set_threads
    lib.bgnn_parallel_set_threads(1)


@pytest.fixture(scope="session")
def fused(tmp_path_factory):
    """A BF2 model of odd sizes (333 points, k=7, widths 24-40-70) with random signs of
    gammas, scales and slopes, converted three ways: `portable/` (LCE form), `fused/`
    (convert --fuse) and `fused-debug.tflite` (the fused graph keeping every layer's
    k-NN and node features as outputs). Also its description, for the NumPy reference."""
    from bgnn_deploy.converters.backends.keras_lce import build_keras, convert_to_tflite
    from bgnn_deploy.converters.convert import convert_checkpoint
    from bgnn_deploy.converters.frontends.torch_models import from_torch
    from bgnn_deploy.converters.fusion.flatbuffer import fuse_model
    from bgnn_deploy.converters.fusion.plan import plan_fusion

    from bgnn_deploy.models import ModelConfig
    from tests.converters.conftest import stressed_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2",
        knn="hamming",
        num_points=333,
        k=7,
        widths=(24, 40, 70),
        emb=48,
        mlp=(40,),
        classes=5,
    )
    root = tmp_path_factory.mktemp("fused")
    model = stressed_checkpoint(root / "m.pt", config, seed=7)
    convert_checkpoint(root / "m.pt", root / "portable", samples=1)
    convert_checkpoint(root / "m.pt", root / "fused", samples=1, fuse=True)
    description = from_torch(model.eval())
    plan = plan_fusion(description)
    debug = convert_to_tflite(build_keras(description, debug=True), binary=True)
    (root / "fused-debug.tflite").write_bytes(fuse_model(debug, plan, debug=True))
    return {"root": root, "plan": plan, "model": model}


@pytest.fixture(scope="session")
def keras_dense(tmp_path_factory):
    """A .tflite that has nothing to do with us: a Keras dense model 16 -> 8 -> 3 (ReLU),
    dynamic batch dimension, builtin ops only."""
    from bgnn_deploy.converters.quiet import native_stderr_silenced

    with native_stderr_silenced():
        import tensorflow as tf

        inputs = tf.keras.Input((16,))
        hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
        keras = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(hidden))
        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(keras).convert()
    path = tmp_path_factory.mktemp("keras") / "dense.tflite"
    path.write_bytes(flatbuffer)
    return path


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A loopback SSH board (see ``tests/targets/sshd.py``), one per test module."""
    board = start_board(tmp_path_factory.mktemp("board"))
    yield board
    board.process.terminate()
    board.process.wait(5)


@pytest.fixture
def targets_file(tmp_path, monkeypatch, board):
    """The targets file tests write the board's profile to; no ~/.ssh/config, no known host."""
    path = tmp_path / "targets.toml"
    monkeypatch.setenv("BGNN_DEPLOY_TARGETS", str(path))
    monkeypatch.setenv("BGNN_DEPLOY_SSH_CONFIG", str(tmp_path / "no-ssh-config"))
    board.known_hosts.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="session")
def sanitized_runners():
    """The whole runner built with sanitizers, by runtime API: `litert` with ASan + UBSan
    (+ LSan) for this host, `tflite-c` with UBSan for aarch64 under qemu; each with its
    runtime library (tests/targets/sanitized_runner.py)."""
    from tests.targets.sanitized_runner import builds

    return builds()


@pytest.fixture(scope="session")
def sanitizer_files(converted, keras_dense, tmp_path_factory):
    """By runtime API, what the sanitized runner's cases run on: `converted`'s fused and
    builtin binary models and `keras_dense` (prepared for LiteRt for `litert`), an input
    file for the fused model and bad files."""
    from tests.targets.sanitized_runner import Files

    models = {
        "binary": converted / "fused" / "binary.tflite",
        "builtin": converted / "builtin" / "binary.tflite",
        "keras": keras_dense,
    }
    root = tmp_path_factory.mktemp("sanitized-runner")
    return {api: Files.make(models, api, root / api) for api in ("litert", "tflite-c")}


@pytest.fixture
def cpu_load():
    """``with cpu_load():`` keeps every core busy in bursts (twice as many processes as
    cores, each busy for 0.2 s then idle for 0.1 s), as a machine shared with other jobs."""
    import contextlib
    import subprocess
    import sys

    burst = (
        "import time\nwhile True:\n    t = time.time()\n"
        "    while time.time() - t < 0.2: pass\n    time.sleep(0.1)\n"
    )

    @contextlib.contextmanager
    def load():
        hogs = [subprocess.Popen([sys.executable, "-c", burst]) for _ in range(2 * os.cpu_count())]
        try:
            yield
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()

    return load
