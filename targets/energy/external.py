"""An external power meter, read on the host: the way to measure a Raspberry Pi 4,
which has no power sensor of its own.

The profile's ``energy_command`` prints watts; it runs in a host thread every
``energy_interval_s``. Host and board clocks are not aligned, so the active window is
the whole runner invocation; `run --energy` makes the timed runs last at least as long
as the idle window so that they dominate it.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time

from bgnn_deploy.targets.energy.base import EnergyWindow, Probe, TimedWindow
from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import Connection

from bgnn_deploy.errors import ConfigError


class ExternalMeter(Probe):
    """Runs the profile's ``energy_command`` on the host in a loop; each run prints watts."""

    name = "external"

    def __init__(self, target: TargetProfile):
        super().__init__(target)
        command = target.extra.get("energy_command")
        self.command = shlex.split(command) if isinstance(command, str) else command
        self.interval = float(target.extra.get("energy_interval_s", 0.05))
        self._samples: list[float] = []
        self._errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.source = f"external meter ({' '.join(self.command or [])})"

    def unavailable(self, conn: Connection) -> str | None:
        if not self.command:
            return (
                f"target '{self.target.name}' uses an external meter but its profile has no "
                "energy_command (a command that prints watts; boards without a power sensor "
                "of their own, such as the Raspberry Pi 4, are measured that way)"
            )
        try:
            self._read()
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            return f"the meter command {shlex.join(self.command)} failed: {e}"
        return None

    def _read(self) -> float:
        done = subprocess.run(self.command, capture_output=True, text=True, timeout=10, check=True)
        return float(done.stdout.strip().split()[0])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._samples.append(self._read())
            except (OSError, ValueError, subprocess.SubprocessError) as e:
                self._errors.append(str(e))
            self._stop.wait(self.interval)

    def start(self, conn: Connection) -> None:
        self._samples, self._errors = [], []
        self._stop.clear()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self, conn: Connection, timed: TimedWindow | None = None) -> EnergyWindow:
        self._stop.set()
        self._thread.join(15)
        seconds = time.perf_counter() - self._started
        if not self._samples:
            raise ConfigError(f"the meter gave no readings: {'; '.join(self._errors[-2:])}")
        return EnergyWindow(
            sum(self._samples) / len(self._samples), seconds, len(self._samples), self.source
        )
