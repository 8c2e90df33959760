"""The local machine as a target: commands run directly, files stay where they are."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bgnn_deploy.targets.transport.base import Connection, RemoteCommandError, RunResult

from bgnn_deploy.errors import RunInterrupted


class LocalConnection(Connection):
    def __init__(self, target):
        super().__init__(target)
        self._tmp = tempfile.mkdtemp(prefix="bgnn-run-")
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        self._interrupted = False

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def run(self, cmd: list[str], *, timeout: float = 600, check: bool = True) -> RunResult:
        start = time.perf_counter()
        with self._lock:
            if self._interrupted:
                raise self._stopped()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip
            self._procs.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:  # a timeout or Ctrl-C: the command does not outlive us
            proc.kill()
            proc.communicate()
            raise
        finally:
            with self._lock:
                self._procs.discard(proc)
        if self._interrupted:
            raise self._stopped()
        result = RunResult(list(cmd), proc.returncode, out, err, time.perf_counter() - start)
        if check and proc.returncode != 0:
            raise RemoteCommandError(result, self.target.name)
        return result

    def _stopped(self) -> RunInterrupted:
        return RunInterrupted(f"interrupted: the commands on {self.target.name} were stopped")

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()

    def put(self, local: Path) -> tuple[str, bool]:
        return str(Path(local).resolve()), False

    def get(self, remote: str, local: Path) -> None:
        if Path(remote).resolve() != Path(local).resolve():
            shutil.copyfile(remote, local)

    def temp_path(self, name: str) -> str:
        return str(Path(self._tmp, name))
