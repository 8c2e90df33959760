"""Jetson INA3221 power monitors, sampled on the board.

Two sysfs layouts (``../shared/DESIGN.md`` §5):

- JetPack 5/6 (hwmon): ``/sys/bus/i2c/devices/*/hwmon/hwmon*/`` with ``name`` =
  ``ina3221``, ``in{n}_label``, ``in{n}_input`` (bus voltage, mV) and ``curr{n}_input``
  (mA). The "sum of shunt voltages" channel and unconnected ("NC") rails are skipped.
- JetPack 4 (iio): ``/sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_{n}`` and
  ``in_power{n}_input`` (mW).

The module's input rail (``VDD_IN``, ``POM_5V_IN`` on the Nano) is the total when it is
there; otherwise the rails found are summed, and the source says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bgnn_deploy.targets.energy.sampler import BoardSampledProbe, BoardSampler
from bgnn_deploy.targets.transport import Connection

INPUT_RAILS = ("VDD_IN", "POM_5V_IN")

# $1 the sysfs root. Prints "layout<TAB>channel file<TAB>label" per rail.
_DISCOVER = r"""
root=$1
for d in "$root"/bus/i2c/devices/*/hwmon/hwmon*; do
  name=; read -r name < "$d/name" 2>/dev/null
  [ "$name" = ina3221 ] || continue
  for l in "$d"/in*_label; do
    n=${l##*/in}; n=${n%_label}
    [ -r "$d/in${n}_input" ] && [ -r "$d/curr${n}_input" ] || continue
    read -r label < "$l" && printf 'hwmon\t%s\t%s\n' "$d/in$n" "$label"
  done
done
for d in "$root"/bus/i2c/drivers/ina3221x/*/iio:device*; do
  for l in "$d"/rail_name_*; do
    n=${l##*_}
    [ -r "$d/in_power${n}_input" ] || continue
    read -r label < "$l" && printf 'iio\t%s\t%s\n' "$d/in_power$n" "$label"
  done
done
"""


@dataclass(frozen=True)
class Rail:
    layout: str  # "hwmon" (mV and mA files) or "iio" (one mW file)
    base: str  # hwmon: ".../in{n}" ; iio: ".../in_power{n}"
    label: str

    @property
    def files(self) -> list[str]:
        if self.layout == "hwmon":
            prefix, n = self.base.rsplit("/in", 1)
            return [f"{prefix}/in{n}_input", f"{prefix}/curr{n}_input"]
        return [f"{self.base}_input"]


def parse_rails(listing: str) -> list[Rail]:
    """Rails from the discovery listing, without the shunt-voltage sum and NC rails.

    >>> parse_rails("hwmon\\t/h/in1\\tVDD_IN\\nhwmon\\t/h/in7\\tsum of shunt voltages\\n"
    ...             "iio\\t/d/in_power2\\tNC\\n")
    [Rail(layout='hwmon', base='/h/in1', label='VDD_IN')]
    """
    rails = []
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        layout, base, label = parts
        if "sum of shunt" in label.lower() or label.strip().upper() in ("NC", ""):
            continue
        rails.append(Rail(layout, base, label.strip()))
    return rails


def select_rails(rails: Sequence[Rail]) -> tuple[list[Rail], str]:
    """The rails to add up, and a description of what that total is."""
    for rail in rails:
        if rail.label.upper() in INPUT_RAILS:
            return [rail], f"{rail.label} (module input, INA3221 {rail.layout})"
    names = ", ".join(r.label for r in rails)
    return list(rails), f"sum of rails {names} (no VDD_IN rail: the module input is not measured)"


def rails_to_watts(rails: Sequence[Rail], values: Sequence[str]) -> float | None:
    """Total watts of one sample (None when the sample is incomplete or unreadable).

    >>> rails = [Rail("hwmon", "/h/in1", "VDD_IN"), Rail("iio", "/d/in_power0", "VDD_SOC")]
    >>> rails_to_watts(rails, ["5000", "1200", "1500"])  # 5 V x 1.2 A + 1.5 W
    7.5
    >>> rails_to_watts(rails, ["5000", "nan", "1500"]) is None  # a file read mid-update
    True
    """
    expected = sum(len(r.files) for r in rails)
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return None
    if len(numbers) != expected or not all(math.isfinite(n) for n in numbers):
        return None
    watts, i = 0.0, 0
    for rail in rails:
        if rail.layout == "hwmon":
            watts += numbers[i] * numbers[i + 1] / 1e6  # mV x mA
            i += 2
        else:
            watts += numbers[i] / 1e3  # mW
            i += 1
    return watts


class Ina3221(BoardSampledProbe):
    name = "ina3221"

    def __init__(self, target):
        super().__init__(target)
        self.root = str(target.extra.get("sensor_root", "/sys"))
        self.interval = float(target.extra.get("energy_interval_s", 0.02))
        self.rails: list[Rail] = []

    def unavailable(self, conn: Connection) -> str | None:
        found = conn.run(["sh", "-c", _DISCOVER, "bgnn-ina3221", self.root], check=False)
        rails = parse_rails(found.stdout)
        if not rails:
            return (
                f"no INA3221 rails under {self.root}/bus/i2c on {self.target.name} "
                "(neither the JetPack 5/6 hwmon nor the JetPack 4 iio layout)"
            )
        self.rails, self.source = select_rails(rails)
        files = [f for r in self.rails for f in r.files]
        self.sampler = BoardSampler(self.interval, files=files)
        return None

    def watts(self, lines: Sequence[str]) -> float | None:
        return rails_to_watts(self.rails, lines)
