"""The transport interface and its results and errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bgnn_deploy.errors import BgnnDeployError


class TransportError(BgnnDeployError):
    """The target cannot be reached or refuses us (host key, authentication, network)."""

    exit_code = 3


@dataclass(frozen=True)
class RunResult:
    cmd: list[str]
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float


class RemoteCommandError(BgnnDeployError):
    """A command on the target exited non-zero; carries its :class:`RunResult`."""

    exit_code = 3

    def __init__(self, result: RunResult, target: str):
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        super().__init__(
            f"'{result.cmd[0]}' failed on {target} (exit {result.exit_code})"
            + (": " + " | ".join(tail) if tail else "")
        )
        self.result = result


class Connection:
    """Run commands and move files. Commands are argument lists, quoted once by the
    transport: nothing in them is interpreted by a shell."""

    def __init__(self, target):
        self.target = target

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def run(self, cmd: list[str], *, timeout: float = 600, check: bool = True) -> RunResult:
        raise NotImplementedError

    def put(self, local: Path) -> tuple[str, bool]:
        """Make ``local`` available on the target; returns (path there, whether it was sent)."""
        raise NotImplementedError

    def get(self, remote: str, local: Path) -> None:
        raise NotImplementedError

    def temp_path(self, name: str) -> str:
        raise NotImplementedError

    def kill(self, marker: str) -> None:
        """Stop processes on the target whose command line contains ``marker``."""

    def interrupt(self) -> None:
        """Stop the commands running now, from any thread; they and every later call raise
        :class:`~bgnn_deploy.errors.RunInterrupted`."""

    def lock_board(self, *, wait_s: float = 60, waiting=None) -> None:
        """Hold the target's run lock until the connection closes (so that two runs do not
        share a board); ``waiting(message)`` is told when it has to wait."""
