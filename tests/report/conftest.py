"""Stored runs shaped like real `run --json` output, built in the test (no runner needed)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgnn_deploy.cli.main import app
from bgnn_deploy.results import ResultsStore
from bgnn_deploy.results.records import RunReport
from bgnn_deploy.results.stats import speedup_ci

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
    runs: int = 20,
    spread: float = 1.0,  # times the usual spread of the timed runs (std 3% of the median)
    runtime: str | None = None,  # what the library reports (default: as the runner's do)
) -> dict:
    """One entry of `results`: the runner's JSON plus what `run` adds (model, role, ...)."""
    path, sha = model

    def at(fraction: float) -> float:  # the median moved by the spread
        return median * (1 + spread * (fraction - 1))

    litert = "LiteRt CompiledModel API (ai-edge-litert 2.x)"
    result = {
        "runtime": runtime or ("2.20.0" if api == "tflite-c" else litert),
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
            "min": at(0.92),
            "median": median,
            "mean": at(1.01),
            "std": median * 0.03 * spread,
            "p90": at(1.06),
            "p95": at(1.08),
            "p99": at(1.12),
            "max": at(1.15),
            "runs": runs,
        },
        "runs_ms": [at(0.92 + 0.23 * i / max(runs - 1, 1)) for i in range(runs)],
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
    runs: int = 20,
    spread: tuple[float, float] = (1.0, 1.0),  # (binary, float), see runner_result
    runtime: str | None = None,
    speedup_rounds: dict[int, list[float]] | None = None,  # threads -> each round's speedup
) -> str:
    """Store one `run` of the binary model and its baseline; returns its run id. Speedups
    and their intervals are computed from the timed runs as `run` computes them."""
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
                    runs=runs,
                    spread=spread[i],
                    runtime=runtime,
                )
            )
    speedups = {str(t): f / b for t, (b, f) in medians.items()}
    timed = {(r["role"], r["threads"]): r["runs_ms"] for r in results}
    cis = {str(t): speedup_ci([timed["float", t]], [timed["binary", t]]) for t in medians}
    report = {
        "target": target,
        "emulated": emulated,
        "results": results,
        "speedup": speedups[str(min(medians))],
        "speedup_by_threads": speedups,
        "speedup_ci_by_threads": {t: list(ci) for t, ci in cis.items() if ci is not None},
        "run_id": None,
        "energy": energy,
        "facts": {"arch": "aarch64", "cpu": "Cortex-A76", "glibc": "2.36", "cores": 4},
        "speedup_rounds_by_threads": {str(t): r for t, r in (speedup_rounds or {}).items()},
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


def fill_realistic(store: ResultsStore, models: dict) -> dict[str, str]:
    """:func:`fill_store`'s runs and three more: a board run whose float model's timed runs
    spread too much (unstable), a host run of 3 timed runs (too few to judge, no interval)
    and a board run on an older TFLite (one target, two runtimes)."""
    ids = fill_store(store, models)
    ids["unstable"] = add_run(
        store, models, target="rpi5", medians={1: (9.8, 14.5)}, spread=(1.0, 5.0)
    )
    ids["few"] = add_run(
        store, models, target="local", medians={1: (2.9, 3.5)}, api="litert", runs=3
    )
    ids["old runtime"] = add_run(
        store, models, target="rpi5", medians={1: (11.0, 14.8)}, runtime="2.16.1", profile=True
    )
    return ids


@pytest.fixture(scope="session")
def realistic(tmp_path_factory):
    """A report (written by `write_report`) of :func:`fill_realistic`'s runs: (the result,
    the run ids by name, the runs as the report reads them, the database)."""
    from bgnn_deploy.report import collect_runs, write_report

    folder = tmp_path_factory.mktemp("realistic")
    store = ResultsStore(folder / "runs.sqlite")
    ids = fill_realistic(store, make_models(folder / "converted"))
    result = write_report(store, [], folder / "report")
    runs = collect_runs(store)
    store.close()
    return result, ids, runs, store.path


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-
    pipe``: NUL-terminated JSON messages on fds 3 and 4), so no extra package is needed.
    ``open(url, width, height)`` shows a page in a tab that emulates a screen of that size
    (as a phone's, honouring the viewport meta tag); ``evaluate`` runs JavaScript in it and
    ``screenshot`` captures it."""

    def __init__(self, binary: str, profile: Path):
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()

        def fds():  # the child's fd 3 reads our commands, fd 4 writes its answers
            a = fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next = 0
        self.session: str | None = None

    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                ready, _, _ = select.select([self._read], [], [], 20)
                chunk = os.read(self._read, 1 << 20) if ready else b""
                if not chunk:
                    raise RuntimeError(f"chromium did not answer {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def open(self, url: str, width: int, height: int) -> None:
        """A new tab, ``width`` x ``height`` CSS px at 1 device px each, showing ``url``
        once it has loaded."""
        if self.session:
            self.send("Target.closeTarget", {"targetId": self._target}, session=False)
        self._target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)[
            "targetId"
        ]
        self.session = self.send(
            "Target.attachToTarget", {"targetId": self._target, "flatten": True}, session=False
        )["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        self.send("Page.navigate", {"url": url})
        loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        for _ in range(200):
            if self.evaluate(loaded):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{url} did not load")

    def evaluate(self, expression: str):
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        params: dict = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "scale": 1,
                **{k: size[k] for k in ("width", "height")},
            }
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # it may close before it answers
            self.send("Browser.close", session=False)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._read)
        os.close(self._write)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Debian's headless Chromium (`make system-deps` installs it); skips without it."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium, or make system-deps)")
    browser = Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


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
