"""A stand-in runner for the records tests: a script on the local target that prints
what the test asks for, so the parsing of the runner's JSON is tested without building."""

from __future__ import annotations

import dataclasses
import json
import shlex

import pytest
from bgnn_deploy.targets.build import RunnerBuild
from bgnn_deploy.targets.profiles import get_target


@pytest.fixture
def runner_json() -> dict:
    """A complete runner result, field for field as the runner's main.c prints one."""
    return {
        "runtime": "2.20.0",
        "runtime_api": "tflite",
        "arch": "x86_64",
        "isa": "avx2",
        "emulated": False,
        "graph": "/blobs/model.tflite",
        "model_bytes": 51234,
        "num_threads": 1,
        "init_ms": 3.25,
        "first_ms": 0.91,
        "warmup_ms": 0.8,
        "latency_ms": {
            "min": 0.5,
            "median": 0.6,
            "mean": 0.61,
            "std": 0.05,
            "p90": 0.7,
            "p95": 0.71,
            "p99": 0.72,
            "max": 0.75,
            "runs": 3,
        },
        "runs_ms": [0.5, 0.6, 0.75],
        "timed_window_boottime_s": [100.25, 100.5],
        "peak_rss_kb_after_init": 9000,
        "peak_rss_kb": 9500,
        "outputs": [{"name": "logits", "type": 1, "bytes": 16, "shape": [1, 4]}],
        "ops": {
            "LceBconv2d": {"ms_per_run": 0.25, "calls_per_run": 4.0},
            "builtin (LiteRT)": {"ms_per_run": 0.3},
        },
    }


@pytest.fixture
def fake_runner(tmp_path):
    """``fake_runner(stdout, exit_code=0)``: a RunnerBuild for the local target whose
    runner prints ``stdout`` (a dict is printed as one JSON line) and exits."""

    def make(stdout: str | dict, exit_code: int = 0) -> RunnerBuild:
        text = json.dumps(stdout) if isinstance(stdout, dict) else stdout
        script = tmp_path / f"runner-{abs(hash(text)) % 10**8}.sh"
        script.write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(text)}\nexit {exit_code}\n")
        script.chmod(0o755)
        library = tmp_path / "libruntime.so"
        library.write_bytes(b"")
        target = dataclasses.replace(get_target("local"), runtime="tflite")
        return RunnerBuild(target, script, library, "", "ai-edge-litert 0.0-test")

    return make


@pytest.fixture
def profiled_runner_json(runner_json) -> dict:
    """``runner_json`` with the per-node profile main.c prints where the runtime times each
    node: ``ops`` by op type (an "other (unattributed)" remainder), ``nodes`` (an
    interpreter node, one of our ops, an operator inside XNNPACK's first kernel) and
    ``profile``."""
    return {
        **runner_json,
        "ops": {
            "CONV_2D": {"ms_per_run": 0.2, "calls_per_run": 1.0},
            "LceBconv2d": {"ms_per_run": 0.25, "calls_per_run": 1.0},
            "Fully Connected (NC, F32) GEMM": {"ms_per_run": 0.1, "calls_per_run": 1.0},
            "other (unattributed)": {"ms_per_run": 0.06},
        },
        "nodes": [
            {"subgraph": 0, "index": 0, "op": "CONV_2D", "ms_per_run": 0.2, "calls_per_run": 1.0},
            {
                "subgraph": 0,
                "index": 1,
                "op": "LceBconv2d",
                "ms_per_run": 0.25,
                "calls_per_run": 1.0,
            },
            {
                "subgraph": 0,
                "index": 0,
                "delegate_kernel": 0,
                "op": "Fully Connected (NC, F32) GEMM",
                "ms_per_run": 0.1,
                "calls_per_run": 1.0,
            },
        ],
        "profile": {"source": "litert-profiler"},
    }
