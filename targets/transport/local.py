"""The local machine as a target: commands run directly, files stay where they are."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bgnn_deploy.targets.transport.base import Connection, RemoteCommandError, RunResult


class LocalConnection(Connection):
    def __init__(self, target):
        super().__init__(target)
        self._tmp = tempfile.mkdtemp(prefix="bgnn-run-")

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def run(self, cmd: list[str], *, timeout: float = 600, check: bool = True) -> RunResult:
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        result = RunResult(
            list(cmd), done.returncode, done.stdout, done.stderr, time.perf_counter() - start
        )
        if check and done.returncode != 0:
            raise RemoteCommandError(result, self.target.name)
        return result

    def put(self, local: Path) -> tuple[str, bool]:
        return str(Path(local).resolve()), False

    def get(self, remote: str, local: Path) -> None:
        if Path(remote).resolve() != Path(local).resolve():
            shutil.copyfile(remote, local)

    def temp_path(self, name: str) -> str:
        return str(Path(self._tmp, name))
