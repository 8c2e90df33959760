"""Stored runs shaped like real `run --json` output, built in the test (no runner needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgnn_deploy.cli.main import app
from bgnn_deploy.results import ResultsStore
from bgnn_deploy.results.records import RunReport

NO_RAPL = "no RAPL package counters under /sys/class/powercap on local"
TOO_FEW = "2 samples in the timed window; need at least 3"


def model_file(folder: Path, name: str, size: int) -> tuple[str, str]:
    """A stand-in .tflite of ``size`` bytes: (path, sha256)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (name.encode() * (size // len(name) + 1))[:size]
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def runner_result(
    role: str,
    model: tuple[str, str],
    *,
    target: str,
    threads: int,
    median: float,
    emulated: bool = False,
    api: str = "tflite-c",
    size: int = 1000,
    ops: dict | None = None,
    energy: dict | None = None,
) -> dict:
    """One entry of `results`: the runner's JSON plus what `run` adds (model, role, ...)."""
    path, sha = model
    result = {
        "runtime": "2.20.0" if api == "tflite-c" else "LiteRt CompiledModel API",
        "runtime_api": api,
        "arch": "aarch64" if api == "tflite-c" else "x86_64",
        "isa": "neon" if api == "tflite-c" else "avx2",
        "emulated": emulated,
        # the LiteRt API loads a prepared copy, a little larger than the file
        "graph": path if api == "tflite-c" else "/cache/litert-models/x.tflite",
        "model_bytes": size if api == "tflite-c" else size + 4608,
        "num_threads": threads,
        "init_ms": 30.0,
        "first_ms": median * 2,
        "warmup_ms": median * 1.1,
        "latency_ms": {
            "min": median * 0.92,
            "median": median,
            "mean": median * 1.01,
            "std": median * 0.03,
            "p90": median * 1.06,
            "p95": median * 1.08,
            "p99": median * 1.12,
            "max": median * 1.15,
            "runs": 20,
        },
        "runs_ms": [median * (0.92 + 0.23 * i / 19) for i in range(20)],
        "peak_rss_kb_after_init": 12000,
        "peak_rss_kb": 14000 if role == "binary" else 17000,
        "outputs": [{"name": "StatefulPartitionedCall:0", "type": 1, "bytes": 16, "shape": [1, 4]}],
        "target": target,
        "model": path,
        "model_sha256": sha,
        "threads": threads,
        "role": role,
    }
    if ops is not None:
        result["ops"] = ops
    if energy is not None:
        result["energy"] = energy
    return result


def _energy(mj: float | None) -> dict:
    if mj is None:
        return {"available": False, "reason": TOO_FEW}
    return {
        "active_power_w": 4.0,
        "idle_power_w": 3.0,
        "energy_per_inference_mj": mj,
        "sampling_rate_hz": 100.0,
        "samples": 300,
        "window_s": 3.0,
        "source": "INA3221 VDD_IN",
    }


PROFILE = {
    "LceQuantize": {"ms_per_run": 0.11, "calls_per_run": 10.0},
    "LceBconv2d": {"ms_per_run": 1.05, "calls_per_run": 6.0},
    "BgnnHammingKnn": {"ms_per_run": 0.45, "calls_per_run": 3.0},
    "builtin (LiteRT)": {"ms_per_run": 1.3},
}


def add_run(
    store: ResultsStore,
    models: dict[str, tuple[str, str]],
    *,
    target: str,
    medians: dict[int, tuple[float, float]],  # threads -> (binary, float) median ms
    emulated: bool = False,
    api: str = "tflite-c",
    profile: bool = False,
    energy: dict | None = None,
    energy_mj: tuple[float | None, float | None] | None = None,  # None: probe failed
) -> str:
    results = []
    for threads, pair in medians.items():
        for i, role in enumerate(("binary", "float")):
            results.append(
                runner_result(
                    role,
                    models[role],
                    target=target,
                    threads=threads,
                    median=pair[i],
                    emulated=emulated,
                    api=api,
                    size=models["sizes"][i],
                    ops=(PROFILE if role == "binary" else {"builtin (LiteRT)": {"ms_per_run": 3.4}})
                    if profile
                    else None,
                    energy=_energy(energy_mj[i]) if energy_mj else None,
                )
            )
    speedups = {str(t): f / b for t, (b, f) in medians.items()}
    report = {
        "target": target,
        "emulated": emulated,
        "results": results,
        "speedup": speedups[str(min(medians))],
        "speedup_by_threads": speedups,
        "run_id": None,
        "energy": energy,
        "facts": {"arch": "aarch64", "cpu": "Cortex-A76", "glibc": "2.36", "cores": 4},
    }
    flags = {"threads": list(medians), "num_runs": 20, "profile_ops": profile}
    return store.add_run(RunReport.from_dict(report), flags=flags)


def make_models(folder: Path) -> dict:
    """A binary model and its float baseline on disk, as `convert` writes them."""
    return {
        "binary": model_file(folder, "binary.tflite", 8_000),
        "float": model_file(folder, "float.tflite", 100_000),
        "sizes": (8_000, 100_000),
    }


def fill_store(store: ResultsStore, models: dict) -> dict[str, str]:
    """A board with energy and a profile (twice: a trend), an emulated board, and the host
    whose probe could not measure; returns their run ids by name."""
    return {
        "board": add_run(
            store,
            models,
            target="rpi5",
            medians={1: (10.0, 14.0), 4: (4.0, 5.0)},
            profile=True,
            energy={"available": True, "probe": "rpi5-pmic", "idle_power_w": 3.0},
            energy_mj=(10.0, 14.0),
        ),
        "emulated": add_run(
            store, models, target="qemu-aarch64", medians={1: (100.0, 700.0)}, emulated=True
        ),
        "host": add_run(
            store,
            models,
            target="local",
            medians={1: (3.0, 3.4)},
            api="litert",
            energy={"available": False, "probe": "rapl", "reason": NO_RAPL},
        ),
        "board again": add_run(
            store, models, target="rpi5", medians={1: (9.5, 14.2)}, profile=True
        ),
    }


@pytest.fixture
def models(tmp_path) -> dict:
    return make_models(tmp_path / "converted")


@pytest.fixture
def store(tmp_path, models):
    """A store of its own for tests that change it or the model files."""
    store = ResultsStore(tmp_path / "runs.sqlite")
    yield store, fill_store(store, models)
    store.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """`bgnn-deploy report` of every run, drawn once for the tests that only read it:
    (the CLI's result, the output folder, the run ids, the database)."""
    folder = tmp_path_factory.mktemp("rendered")
    store = ResultsStore(folder / "runs.sqlite")
    ids = fill_store(store, make_models(folder / "converted"))
    store.close()
    out = folder / "report"
    result = CliRunner().invoke(app, ["report", "-o", str(out), "--db", str(store.path)])
    assert result.exit_code == 0, result.output
    return result, out, ids, store.path


PER_NODE = {  # as the runner prints a per-node profile: every op type, and the remainder
    "binary": {
        "LceBconv2d": {"ms_per_run": 1.2, "calls_per_run": 6.0},
        "TOPK_V2": {"ms_per_run": 0.8, "calls_per_run": 4.0},
        "Fully Connected (NC, F32) GEMM": {"ms_per_run": 0.3, "calls_per_run": 4.0},
        "LceQuantize": {"ms_per_run": 0.1, "calls_per_run": 10.0},
        "other (unattributed)": {"ms_per_run": 0.12},
    },
    "float": {
        "TOPK_V2": {"ms_per_run": 2.3, "calls_per_run": 4.0},
        "Fully Connected (NC, F32) GEMM": {"ms_per_run": 1.8, "calls_per_run": 8.0},
        "STRIDED_SLICE": {"ms_per_run": 0.4, "calls_per_run": 8.0},
        "GATHER": {"ms_per_run": 0.1, "calls_per_run": 4.0},
        "other (unattributed)": {"ms_per_run": 0.3},
    },
}


def _add_per_node_run(store: ResultsStore, models: dict, *, target: str = "local") -> str:
    """A run whose binary and float models both have per-node profiles (PER_NODE)."""
    results = [
        runner_result(role, models[role], target=target, threads=1, median=median, api="litert",
                      ops=PER_NODE[role])
        for role, median in (("binary", 2.5), ("float", 4.9))
    ]  # fmt: skip
    report = {"target": target, "emulated": False, "results": results, "speedup": 1.96,
              "speedup_by_threads": {"1": 1.96}, "facts": {"arch": "x86_64"}}  # fmt: skip
    return store.add_run(RunReport.from_dict(report), flags={"profile_ops": True})


@pytest.fixture
def per_node_store(store, models):
    """``store`` with one more run, on local, whose binary and float models have per-node
    profiles: (the store, run ids with "per-node" added, the profiles by role)."""
    store, ids = store
    return store, {**ids, "per-node": _add_per_node_run(store, models)}, PER_NODE
