"""A power sampler that runs on the board, next to the runner.

Sensors are read by a POSIX shell loop started in the background on the target (one
SSH command to start, one to stop and collect): no SSH round trip per sample, and
files are read with the ``read`` builtin so a sample costs no process. Each sample is
a block: ``@ <uptime>`` (``/proc/uptime``, i.e. CLOCK_BOOTTIME, the clock the runner
stamps its timed window with) followed by the sensor values. The loop ends by itself
when its output file is removed (the connection's temporary files are removed when it
closes, also after Ctrl-C) or after ``max_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bgnn_deploy.targets.energy.base import EnergyWindow, Probe, TimedWindow
from bgnn_deploy.targets.transport import Connection

from bgnn_deploy.errors import ConfigError

__all__ = ["BoardSampledProbe", "BoardSampler", "Sample", "mean_power"]

# $1 output file, $2 interval (s), $3 limit (s), $4 mode (files | command), then the
# files to read or the command to run.
_SCRIPT = r"""
out=$1 interval=$2 limit=$3 mode=$4
shift 4
: > "$out" || exit 1
(
  exec 3>> "$out"  # written through this descriptor: a removed file is never recreated
  read -r begin _ < /proc/uptime
  while [ -e "$out" ]; do
    read -r now _ < /proc/uptime
    [ "${now%.*}" -gt $(( ${begin%.*} + limit )) ] && break
    line="@ $now"
    if [ "$mode" = files ]; then
      for f in "$@"; do v=; read -r v < "$f"; line="$line
${v:-nan}"; done
      printf '%s\n' "$line" >&3
    else
      printf '%s\n' "$line" >&3
      "$@" >&3 2>&1
    fi
    sleep "$interval"
  done
) < /dev/null > /dev/null 2>&1 &
echo $!
"""


@dataclass(frozen=True)
class Sample:
    t: float  # board seconds since boot
    lines: tuple[str, ...]


def parse_samples(text: str) -> list[Sample]:
    """Split the sampler's output into stamped blocks (a block cut short by the stop
    is returned as it is; the probe's reader rejects it)."""
    samples: list[Sample] = []
    stamp, lines = None, []
    for line in text.splitlines():
        if line.startswith("@ "):
            if stamp is not None:
                samples.append(Sample(stamp, tuple(lines)))
            try:
                stamp, lines = float(line[2:]), []
            except ValueError:
                stamp = None
        elif stamp is not None:
            lines.append(line)
    if stamp is not None:
        samples.append(Sample(stamp, tuple(lines)))
    return samples


def mean_power(
    samples: Sequence[Sample],
    to_watts: Callable[[Sequence[str]], float | None],
    timed: TimedWindow | None = None,
    source: str = "",
) -> EnergyWindow:
    """Mean power of the samples (only those inside ``timed`` when given).

    >>> s = [Sample(t, (str(w),)) for t, w in [(1.0, 2), (2.0, 4), (3.0, 6), (4.0, 8)]]
    >>> w = mean_power(s, lambda v: float(v[0]), timed=(1.5, 3.5))
    >>> (w.mean_power_w, w.samples, w.seconds)
    (5.0, 2, 2.0)
    """
    if timed is not None:
        samples = [s for s in samples if timed[0] <= s.t <= timed[1]]
    readings = [(s.t, w) for s in samples if (w := to_watts(s.lines)) is not None]
    if not readings:
        where = " during the timed runs (run longer: --num-runs)" if timed else ""
        raise ConfigError(f"the power sensor gave no readable samples{where}")
    seconds = timed[1] - timed[0] if timed is not None else readings[-1][0] - readings[0][0]
    watts = [w for _, w in readings]
    return EnergyWindow(sum(watts) / len(watts), seconds, len(watts), source)


class BoardSampler:
    """Starts and stops the sampling loop on the target."""

    def __init__(
        self, interval_s: float, *, files: Sequence[str] = (), command: Sequence[str] = ()
    ):
        if bool(files) == bool(command):
            raise ValueError("sample either files or a command")
        self.interval_s = interval_s
        self.mode, self.args = ("files", list(files)) if files else ("command", list(command))
        self._pid: str | None = None
        self._out = ""

    def start(self, conn: Connection, max_seconds: int = 3600) -> None:
        self._out = conn.temp_path("power-samples.txt")
        done = conn.run(
            [
                "sh",
                "-c",
                _SCRIPT,
                "bgnn-power-sampler",
                self._out,
                f"{self.interval_s:g}",
                str(max_seconds),
                self.mode,
                *self.args,
            ],
            timeout=30,
            check=False,
        )
        pid = done.stdout.strip()
        if done.exit_code != 0 or not pid.isdigit():
            raise ConfigError(
                f"cannot start the power sampler on {conn.target.name}: "
                f"{(done.stderr or done.stdout).strip()[-300:]}"
            )
        self._pid = pid

    def stop(self, conn: Connection) -> list[Sample]:
        """Stop the loop and return its samples."""
        if self._pid is None:
            raise ConfigError("the power sampler was not started")
        conn.run(["kill", self._pid], check=False)
        self._pid = None
        text = conn.run(["cat", self._out], check=False).stdout
        conn.run(["rm", "-f", self._out], check=False)
        return parse_samples(text)


class BoardSampledProbe(Probe):
    """A probe whose sensor the loop above reads on the board. Subclasses set ``sampler``
    (and ``source``, what the total is) and say how one sample reads as watts."""

    sampler: BoardSampler | None = None
    source = ""

    def watts(self, lines: Sequence[str]) -> float | None:
        """Total watts of one sample's lines; None when the sample is unusable."""
        raise NotImplementedError

    def start(self, conn: Connection) -> None:
        self.sampler.start(conn)

    def stop(self, conn: Connection, timed: TimedWindow | None = None) -> EnergyWindow:
        return mean_power(self.sampler.stop(conn), self.watts, timed, self.source)
