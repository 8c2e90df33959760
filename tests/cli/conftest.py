from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def screen():
    """``screen(*args)``: run the CLI in-process as on an 80-column terminal (click's help
    and rich's tables both read $COLUMNS); the result has ``stdout`` and ``stderr``."""
    from typer.testing import CliRunner

    from bgnn_deploy.cli.main import app

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80", "LINES": "50"})

    return invoke


@pytest.fixture
def matches_snapshot():
    """``matches_snapshot(name, text)``: ``text`` equals tests/cli/snapshots/NAME.txt.
    With BGNN_UPDATE_SNAPSHOTS=1 the file is (re)written from ``text`` instead."""

    def check(name: str, text: str) -> None:
        path = SNAPSHOTS / f"{name}.txt"
        if os.environ.get("BGNN_UPDATE_SNAPSHOTS") == "1":
            SNAPSHOTS.mkdir(exist_ok=True)
            path.write_text(text)
            return
        assert path.is_file(), (
            f"no snapshot {path.name}; BGNN_UPDATE_SNAPSHOTS=1 pytest {__file__} writes it"
        )
        expected = path.read_text()
        assert text == expected, (
            f"{path.name} differs (BGNN_UPDATE_SNAPSHOTS=1 rewrites it):\n"
            + "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True)))
        )

    return check


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    """The installed CLI in its own process, stderr a pipe (not a terminal), 80 columns."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "bgnn_deploy", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def tiny_conversion(tiny_checkpoint_bytes, tmp_path_factory):
    """``(folder, process)``: ``convert model.pt -o out --json`` of the tiny checkpoint,
    run as a user runs it (its own process, stderr a pipe); ``folder`` holds model.pt and
    out/."""
    folder = tmp_path_factory.mktemp("tiny-conversion")
    (folder / "model.pt").write_bytes(tiny_checkpoint_bytes)
    process = run_cli("convert", "model.pt", "-o", "out", "--samples", "2", "--json", cwd=folder)
    assert process.returncode == 0, process.stderr
    return folder, process


@pytest.fixture
def train_lines(tmp_path):
    """``train_lines(*args)``: run ``train`` in its own process and read its stderr line by
    line as it comes: [(seconds since start, line)], and the seconds at which it exited."""

    def run(*args):
        env = {**os.environ, "COLUMNS": "80"}
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "bgnn_deploy", "train", *map(str, args)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in process.stderr]
        assert process.wait(timeout=600) == 0, "\n".join(line for _, line in lines)
        return lines, time.perf_counter() - started

    return run


@pytest.fixture
def stored_runs(tmp_path):
    """A results store with two fixed runs, as `run` stores them: the host (litert, 60
    steady runs a side in 5 rounds, profiled) and an emulated board (tflite-c, 6 runs a
    side, the binary's spread too wide). Returns (the database, {"local": id, "qemu": id})."""
    from bgnn_deploy.results import ResultsStore
    from bgnn_deploy.results.records import Latency, Measurement, Round, RunnerResult, RunReport

    def measurement(role, target, runs, api, package, emulated):
        result = RunnerResult(
            runtime="v", arch="aarch64" if emulated else "x86_64",
            latency=Latency.from_samples(runs), peak_rss_kb=9830 if role == "binary" else 16800,
            runtime_api=api, runtime_package=package, emulated=emulated, init_ms=3.125,
            first_ms=runs[0] * 2, runs_ms=tuple(runs), timed_s=sum(runs) / 1e3,
        )  # fmt: skip
        step = len(runs) // 5 or 1
        rounds = tuple(
            Round(runs=len(part), median_ms=float(np.median(part)), timed_s=sum(part) / 1e3)
            for part in (runs[i : i + step] for i in range(0, len(runs), step))
        )
        path = f"/models/converted-fast/{role}.tflite"
        return Measurement(result, role, path, role[0] * 64, 1, target, rounds=rounds)

    def report(target, emulated, sides, api, package, parameters):
        results = [measurement(role, target, runs, api, package, emulated) for role, runs in sides]
        (_, fast), (_, slow) = sides
        speedup = float(np.median(slow) / np.median(fast))
        return RunReport(
            target, emulated, results, speedup={"1": speedup},
            speedup_ci={"1": (speedup * 0.97, speedup * 1.04)},
            speedup_rounds={"1": tuple(r1.median_ms / r0.median_ms for r0, r1 in
                                       zip(results[0].rounds, results[1].rounds, strict=True))},
            facts={"arch": "aarch64" if emulated else "x86_64", "cpu": None if emulated else
                   "AMD EPYC", "emulator": "qemu-aarch64 7.2.22" if emulated else None,
                   "host_cpu": "AMD EPYC" if emulated else None, "cores": 2},
            parameters=parameters,
        )  # fmt: skip

    base = {"threads": [1], "warmup_runs": 1, "min_secs": 1.0, "profile_ops": False,
            "energy": False, "energy_probe": None, "baseline": "/models/float.tflite"}  # fmt: skip
    wave = [1.0 + 0.02 * ((i * 7) % 5) for i in range(60)]  # steady: CV about 3%
    local_sides = [("binary", [0.75 * w for w in wave]), ("float", [5.8 * w for w in wave])]
    local = report("local", False, local_sides, "litert", "ai-edge-litert 2.3.0",
                   {**base, "num_runs": 50, "rounds": 5})  # fmt: skip
    qemu_sides = [("binary", [20.0, 21.0, 35.0, 20.5, 26.0, 20.2]),
                  ("float", [1075.0, 1080.0, 1071.0, 1090.0, 1077.0, 1074.0])]  # fmt: skip
    qemu = report("qemu-aarch64", True, qemu_sides, "tflite-c", "ai-edge-litert 1.4.0",
                  {**base, "num_runs": 5, "rounds": 5})  # fmt: skip
    db = tmp_path / "runs.sqlite"
    store = ResultsStore(db)
    ids = {"local": store.add_run(local, flags=local.parameters),
           "qemu": store.add_run(qemu, flags=qemu.parameters)}  # fmt: skip
    store.close()
    return db, ids
