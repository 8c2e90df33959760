"""Section 7: what ``bgnn-deploy run`` costs over SSH beyond the runs themselves.

The board is a real OpenSSH server on 127.0.0.1 (the tests' ``tests/targets/sshd.py``)
with its own host key, client key and a private home, so its blob cache can be emptied
without touching anyone else's. It runs the x86_64 runner natively: emulation would
add qemu's start-up and emulated inferences to the overhead, which are not deployment
costs. Each round runs ``run_models`` (the library call behind ``bgnn-deploy run``) on
the demo-size binary model and its float baseline twice: cold (empty blob cache: runner,
runtime library and both models are uploaded) and cached (nothing changed, nothing sent).

overhead = wall time of ``run_models`` - the sum of the runner-reported timed runs
(mean x runs, both models). It still contains each runner's start-up, model
preparation, first inference and warm-up on the board; ``transport_s`` removes those
too (what SSH, uploads and fact collection alone cost).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.stats import Spread
from bgnn_deploy.results.records import Measurement, RunnerResult

__all__ = ["measure_deploy", "overheads"]


def _startup_ms(r: RunnerResult) -> float:
    """The runner's own time before the timed runs: start-up, first run, warm-up."""
    return (r.init_ms or 0.0) + (r.first_ms or 0.0) + (r.warmup_ms or 0.0)


BOARD = "bench-board"


def overheads(wall_s: float, results: list[Measurement]) -> dict:
    """Split one run's wall time using the runner results of its models."""
    timed = sum(m.latency.mean * m.latency.runs for m in results) / 1e3
    runner = timed + sum(_startup_ms(m.result) for m in results) / 1e3
    return {
        "wall_s": wall_s,
        "timed_runs_s": timed,
        "overhead_s": wall_s - timed,
        "transport_s": wall_s - runner,
    }


@contextlib.contextmanager
def _counting_commands(log: list[tuple[str, float]]) -> Iterator[None]:
    """Record each remote command's name and duration (``RunResult.duration_s``), to show
    where the overhead goes; the transport itself is unchanged."""
    from bgnn_deploy.targets.transport.ssh import SshConnection

    original = SshConnection.run

    def run(self, cmd, **kwargs):
        result = original(self, cmd, **kwargs)
        log.append((Path(cmd[0]).name, result.duration_s))
        return result

    SshConnection.run = run
    try:
        yield
    finally:
        SshConnection.run = original


@contextlib.contextmanager
def _board(root: Path) -> Iterator[Path]:
    """A loopback sshd with a private home; yields that home. Environment variables
    point bgnn-deploy at its profile for the duration."""
    from tests.targets.sshd import start_board

    home = root / "home"
    home.mkdir(parents=True)
    board = start_board(root / "sshd", sftp_start_dir=home)
    board.trust_host_key()
    targets = root / "targets.toml"
    targets.write_text(
        board.profile(BOARD, arch="x86_64", runtime="litert", emulated=False, launcher=[])
    )
    saved = {k: os.environ.get(k) for k in ("BGNN_DEPLOY_TARGETS", "BGNN_DEPLOY_SSH_CONFIG")}
    os.environ["BGNN_DEPLOY_TARGETS"] = str(targets)
    os.environ["BGNN_DEPLOY_SSH_CONFIG"] = str(root / "no-ssh-config")
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        board.process.terminate()
        board.process.wait(10)


def measure_deploy(model: Path, *, rounds: int, num_runs: int, say: Callable[[str], None]) -> dict:
    """Cold and cached ``run_models`` over SSH, alternating, ``rounds`` times each."""
    from bgnn_deploy.targets.run import run_models

    runs: dict[str, list[dict]] = {"cold": [], "cached": []}
    with tempfile.TemporaryDirectory(prefix="bench-ssh-") as tmp, _board(Path(tmp)) as home:
        for r in range(rounds):
            for state in ("cold", "cached"):
                if state == "cold":
                    shutil.rmtree(home / ".cache", ignore_errors=True)  # the board's blob cache
                say(f"SSH round {r + 1}/{rounds}: {state}")
                log: list[tuple[str, float]] = []
                with _counting_commands(log):
                    t0 = time.perf_counter()
                    report = run_models(model, BOARD, num_runs=num_runs, warmup_runs=1)
                    wall = time.perf_counter() - t0
                runs[state].append(
                    {
                        **overheads(wall, report.results),
                        "remote_commands": len(log),
                        "remote_command_names": [name for name, _ in log],
                        "remote_commands_s": sum(d for _, d in log),
                        "runner_commands_s": sum(d for name, d in log if name == "bgnn-runner"),
                    }
                )
        sent = sorted(p.stat().st_size for p in (home / ".cache").rglob("*") if p.is_file())
    return {
        "board": "OpenSSH on 127.0.0.1, x86_64 runner (native), private blob cache",
        "model": str(model),
        "num_runs": num_runs,
        "runs": runs,
        "uploaded_bytes_cold": sum(sent),
        "overhead_s": {
            s: Spread.of([x["overhead_s"] for x in v]).to_dict() for s, v in runs.items()
        },
        "transport_s": {
            s: Spread.of([x["transport_s"] for x in v]).to_dict() for s, v in runs.items()
        },
        "wall_s": {s: Spread.of([x["wall_s"] for x in v]).to_dict() for s, v in runs.items()},
    }
