"""What every energy probe provides: a mean power over a window, and why it cannot."""

from __future__ import annotations

from dataclasses import dataclass

from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import Connection

__all__ = ["EnergyWindow", "Probe"]

# The runner's timed runs as (start, end) seconds on the board's CLOCK_BOOTTIME.
TimedWindow = tuple[float, float]


@dataclass
class EnergyWindow:
    mean_power_w: float
    seconds: float
    samples: int
    source: str = ""  # what was measured, e.g. "VDD_IN (module input)"

    @property
    def rate_hz(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


class Probe:
    """``unavailable`` first (it also discovers the sensor), then ``start``/``stop`` pairs.

    ``stop`` gets the runner's timed window when there is one: probes that stamp their
    samples on the board keep only the samples taken during the timed runs.
    """

    name = "none"

    def __init__(self, target: TargetProfile):
        self.target = target

    def unavailable(self, conn: Connection) -> str | None:
        """None when the probe can measure on this target, else why not."""
        return f"target '{self.target.name}' has no energy probe (energy = \"none\")"

    def start(self, conn: Connection) -> None:
        raise NotImplementedError

    def stop(self, conn: Connection, timed: TimedWindow | None = None) -> EnergyWindow:
        raise NotImplementedError
