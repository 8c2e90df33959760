"""Energy probes, chosen by the target profile's ``energy`` (or ``--energy-probe``).

A probe measures mean power over a window; `run --energy` opens one window while the
board idles and one around each model's timed runs, and reports idle and active
power, energy per inference (idle subtracted, times the median latency), the sampling
rate and the number of samples.

- ``ina3221`` (Jetson, JetPack 4 iio and 5/6 hwmon layouts) and ``rpi5-pmic``
  (Raspberry Pi 5, ``vcgencmd pmic_read_adc``): sampled on the board by a shell loop
  next to the runner; only samples inside the runner's timed window count.
- ``rapl``: x86 package energy counters on the target.
- ``external``: a meter command on the host that prints watts (the Raspberry Pi 4 has
  no power sensor of its own).
- ``none``: energy is reported as not available, with the reason.
"""

from __future__ import annotations

from bgnn_deploy.targets.energy.base import EnergyWindow, Probe, TimedWindow
from bgnn_deploy.targets.energy.external import ExternalMeter
from bgnn_deploy.targets.energy.ina3221 import Ina3221
from bgnn_deploy.targets.energy.rapl import Rapl
from bgnn_deploy.targets.energy.rpi5_pmic import Rpi5Pmic
from bgnn_deploy.targets.profiles import TargetProfile

from bgnn_deploy.errors import unknown_name

__all__ = ["PROBES", "EnergyWindow", "Probe", "TimedWindow", "get_probe"]

PROBES: dict[str, type[Probe]] = {
    "none": Probe,
    "external": ExternalMeter,
    "rapl": Rapl,
    "ina3221": Ina3221,
    "rpi5-pmic": Rpi5Pmic,
}


def get_probe(target: TargetProfile, override: str | None = None) -> Probe:
    name = override or target.energy or "none"
    if name not in PROBES:
        raise unknown_name("energy probe", name, PROBES)
    return PROBES[name](target)
