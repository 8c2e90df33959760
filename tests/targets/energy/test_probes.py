"""Each probe says why it cannot measure, in words a user can act on."""

from __future__ import annotations

from dataclasses import replace

from bgnn_deploy.targets.energy import get_probe
from bgnn_deploy.targets.profiles import get_target
from bgnn_deploy.targets.transport import connect


def test_the_pi4_profile_needs_an_external_meter_and_says_so():
    rpi4 = get_target("rpi4")
    assert rpi4.energy == "external"
    local = replace(get_target("local"), energy="external", extra={})
    with connect(local) as conn:
        reason = get_probe(local).unavailable(conn)
    assert "no energy_command (a command that prints watts" in reason
    assert "Raspberry Pi 4" in reason
