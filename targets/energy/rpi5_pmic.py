"""Raspberry Pi 5 PMIC rail monitors (``vcgencmd pmic_read_adc``), sampled on the board.

The command prints one line per ADC channel, currents and voltages of each rail::

    VDD_CORE_A current(7)=2.17910000A
    VDD_CORE_V volt(15)=0.89550780V
    EXT5V_V volt(24)=5.14954000V

Power is the sum over rails that have both (``X_A`` x ``X_V``). That is the power the
PMIC delivers to the SoC, memory and I/O rails: it leaves out the regulators' losses
and what USB devices draw from 5 V, so it reads lower than a meter at the wall; the
idle-subtracted energy per inference is what compares across runs.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence

from bgnn_deploy.targets.energy.sampler import BoardSampledProbe, BoardSampler
from bgnn_deploy.targets.transport import Connection

SOURCE = "sum of the PMIC rails (vcgencmd pmic_read_adc; excludes regulator losses and USB)"
_LINE = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=([-+0-9.eE]+)[AV]\s*$")


def pmic_watts(lines: Sequence[str]) -> float | None:
    """Sum of current x voltage over the rails of one ``pmic_read_adc`` output.

    >>> pmic_watts(["  VDD_CORE_A current(7)=2.00000000A", "VDD_CORE_V volt(15)=0.90000000V",
    ...             "EXT5V_V volt(24)=5.10000000V", "3V3_SYS_A current(1)=0.10000000A",
    ...             "3V3_SYS_V volt(9)=3.30000000V"])
    2.13
    """
    amps: dict[str, float] = {}
    volts: dict[str, float] = {}
    for line in lines:
        match = _LINE.match(line)
        if match:
            rail, kind, value = match.groups()
            (amps if kind == "A" else volts)[rail] = float(value)
    rails = amps.keys() & volts.keys()
    if not rails or not all(math.isfinite(amps[r] * volts[r]) for r in rails):
        return None
    return round(sum(amps[r] * volts[r] for r in rails), 9)


class Rpi5Pmic(BoardSampledProbe):
    name = "rpi5-pmic"
    source = SOURCE

    def __init__(self, target):
        super().__init__(target)
        command = target.extra.get("pmic_command", "vcgencmd pmic_read_adc")
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.interval = float(target.extra.get("energy_interval_s", 0.05))
        self.sampler = BoardSampler(self.interval, command=self.command)

    def unavailable(self, conn: Connection) -> str | None:
        try:
            done = conn.run(self.command, timeout=20, check=False)
        except OSError as e:  # the local transport: the command does not exist
            return f"{shlex.join(self.command)} cannot run on {self.target.name}: {e.strerror}"
        if done.exit_code != 0 or pmic_watts(done.stdout.splitlines()) is None:
            said = (done.stderr or done.stdout).strip()[-200:]
            return (
                f"{shlex.join(self.command)} gave no PMIC rail readings on {self.target.name}"
                + (f": {said}" if said else "")
                + " (a Raspberry Pi 5 with current firmware is needed)"
            )
        return None

    def watts(self, lines: Sequence[str]) -> float | None:
        return pmic_watts(lines)
