"""Run the runner on a target (through its transport) and read its JSON once, into a
:class:`~bgnn_deploy.results.records.RunnerResult`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
from bgnn_deploy.targets.build import RunnerBuild
from bgnn_deploy.targets.transport import Connection, connect

from bgnn_deploy.errors import BgnnDeployError
from bgnn_deploy.results.records import RecordError, RunnerResult

__all__ = ["RunnerError", "read_outputs", "run_runner"]

_NUMPY_TYPES = {1: np.float32, 2: np.int32, 4: np.int64, 9: np.int8}


class RunnerError(BgnnDeployError):
    """The runner failed on the target. ``result`` is the runner's error JSON (``error``,
    ``stage``, ``exit_code``), or ``{"stage": "crash", "signal": N}`` for a runner killed
    by a signal; ``stage`` is its stage."""

    exit_code = 3

    def __init__(self, message: str, *, result: dict | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.result: dict = result or {}

    @property
    def stage(self) -> str:
        return str(self.result.get("stage", "unknown"))


def run_runner(
    build: RunnerBuild,
    model: str | Path,
    *,
    num_runs: int = 50,
    warmup_runs: int = 1,
    threads: int = 1,
    input_path: Path | None = None,
    output_path: Path | None = None,
    profile_ops: bool = False,
    min_secs: float = 0.0,
    timeout: float = 600,
    conn: Connection | None = None,
) -> RunnerResult:
    """One runner invocation on the build's target; returns what it printed, labelled
    ``emulated`` as the profile says and with the runtime's package. Files the target
    lacks are sent first (content-addressed: unchanged ones are not sent again)."""
    with contextlib.nullcontext(conn) if conn is not None else connect(build.target) as conn:
        return _run(
            build,
            conn,
            Path(model),
            num_runs=num_runs,
            warmup_runs=warmup_runs,
            threads=threads,
            input_path=input_path,
            output_path=output_path,
            profile_ops=profile_ops,
            min_secs=min_secs,
            timeout=timeout,
        )


def _run(
    build: RunnerBuild,
    conn: Connection,
    model: Path,
    *,
    num_runs: int,
    warmup_runs: int,
    threads: int,
    input_path: Path | None,
    output_path: Path | None,
    profile_ops: bool,
    min_secs: float,
    timeout: float,
) -> RunnerResult:
    target = build.target
    launcher = list(target.launcher)
    if launcher and target.transport == "local" and shutil.which(launcher[0]) is None:
        raise BgnnDeployError(
            f"target '{target.name}' needs {launcher[0]}, which is not installed",
            hint="apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross",
        )
    runner, _ = conn.put(build.runner)
    library, _ = conn.put(build.runtime_library)
    graph, _ = conn.put(_prepared(model, target.runtime))
    cmd = [
        *launcher,
        runner,
        "--graph",
        graph,
        "--runtime",
        library,
        "--runtime_api",
        target.runtime,
        "--num_runs",
        str(num_runs),
        "--warmup_runs",
        str(warmup_runs),
        "--num_threads",
        str(threads),
    ]
    if input_path is not None:
        cmd += ["--input", conn.put(Path(input_path))[0]]
    remote_output = conn.temp_path("outputs.raw") if output_path is not None else None
    if remote_output is not None:
        cmd += ["--output", remote_output]
    if profile_ops:
        cmd.append("--enable_op_profiling")
    if min_secs > 0:
        cmd += ["--min_secs", f"{min_secs:g}"]
    if target.emulated:
        cmd.append("--emulated")
    tag = f"bgnn-{uuid.uuid4().hex[:12]}"
    cmd += ["--tag", tag]
    try:
        done = conn.run(cmd, timeout=timeout, check=False)
    except KeyboardInterrupt:
        conn.kill(tag)  # stop the runner on the board, then let the interrupt through
        raise
    except OSError as e:  # e.g. an aarch64 binary started without qemu: exec format error
        raise RunnerError(
            f"cannot start the runner for {target.name} ({target.arch}): {e.strerror}",
            hint="the runner is built for the target's architecture; emulated targets need "
            "a launcher (qemu-aarch64) in their profile",
        ) from None
    except subprocess.TimeoutExpired:
        raise RunnerError(
            f"the runner did not finish within {timeout:.0f} s on {target.name}"
        ) from None
    result = _last_json_object(done.stdout)
    if done.exit_code != 0:
        said = done.stderr.strip()[-500:]
        if not result and (done.exit_code < 0 or done.exit_code > 128):
            # the local target reports -N, the SSH transport's wrapper 128+N
            signal_no = -done.exit_code if done.exit_code < 0 else done.exit_code - 128
            raise RunnerError(
                f"the runner was killed on {target.name} by {_signal_name(signal_no)}"
                + (f"; the board said: {said}" if said else ""),
                result={"stage": "crash", "signal": signal_no},
                hint="free memory on the board or run a smaller model" if signal_no == 9 else None,
            )
        message = result.get("error") or said or f"exit code {done.exit_code}"
        stage = result.get("stage", "unknown")
        raise RunnerError(f"runner failed on {target.name} ({stage}): {message}", result=result)
    if not result:
        raise RunnerError(
            f"the runner on {target.name} exited 0 but printed no result"
            + (f"; it said: {done.stdout.strip()[-300:]}" if done.stdout.strip() else ""),
            hint=_NOT_OUR_RESULT,
        )
    try:
        parsed = RunnerResult.parse(result, where=f"the runner's JSON on {target.name}")
    except RecordError as e:
        raise RunnerError(
            str(e),
            result=result,
            hint=_NOT_OUR_RESULT,
        ) from None
    if remote_output is not None:
        conn.get(remote_output, Path(output_path))
    return replace(parsed, emulated=bool(target.emulated), runtime_package=build.runtime_version)


_NOT_OUR_RESULT = (
    "the runner bgnn-deploy builds always prints one: report this as a bug, with the board's "
    "output above; a runner binary damaged in the build cache is rebuilt after removing it"
)


def _last_json_object(stdout: str) -> dict:
    """The runner's last JSON line (it prints one), or {} when there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            return value if isinstance(value, dict) else {}
    return {}


def _signal_name(number: int) -> str:
    """``signal 9 (SIGKILL: often the out-of-memory killer)``; Linux numbers, which the
    boards share with this host for the signals that end a process."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    if number == signal.SIGKILL:
        name += ": often the out-of-memory killer"
    return f"signal {number} ({name})"


def _prepared(model: Path, runtime: str) -> Path:
    """The model as the runtime needs it: LiteRt gets a prepared copy (cached by content)."""
    if runtime != "litert":
        return model
    from bgnn_deploy.converters.litert_prepare import prepare_for_litert
    from bgnn_deploy.targets.toolchain.cache import cache_dir, sha256_file

    if not model.is_file():
        raise BgnnDeployError(f"model file not found: {model}")
    out = cache_dir("litert-models") / f"{sha256_file(model)}.tflite"
    if not out.is_file():
        # a name of its own: two runs preparing the same model at once must not share one
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f"{out.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(prepare_for_litert(model.read_bytes()))
            os.replace(tmp, out)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return out


def read_outputs(result: RunnerResult, path: Path) -> list[np.ndarray]:
    """Split the runner's --output file into arrays, using the shapes it reported."""
    data = path.read_bytes()
    arrays, offset = [], 0
    for out in result.outputs:
        dtype = _NUMPY_TYPES.get(out.type)
        if dtype is None:
            raise RunnerError(f"output {out.name} has an unsupported type code {out.type}")
        chunk = data[offset : offset + out.bytes]
        if len(chunk) != out.bytes or out.bytes != np.dtype(dtype).itemsize * int(
            np.prod(out.shape, dtype=np.int64)
        ):
            raise RunnerError(
                f"output {out.name}: the runner wrote {len(chunk)} bytes for "
                f"{list(out.shape)} {np.dtype(dtype).name}"
            )
        arrays.append(np.frombuffer(chunk, dtype=dtype).reshape(out.shape))
        offset += out.bytes
    return arrays
