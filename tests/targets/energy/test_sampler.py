"""The on-board sampling loop: stamped blocks, cut-short blocks, the timed window, and
that it never outlives the connection that started it."""

from __future__ import annotations

import os
import time

import pytest
from bgnn_deploy.targets.energy.ina3221 import Rail, rails_to_watts
from bgnn_deploy.targets.energy.sampler import BoardSampler, mean_power, parse_samples
from bgnn_deploy.targets.profiles import get_target
from bgnn_deploy.targets.transport import connect

from bgnn_deploy.errors import ConfigError


def test_blocks_cut_short_by_the_stop_are_dropped():
    rails = [Rail("hwmon", "/h/in1", "VDD_IN")]
    samples = parse_samples("@ 10.00\n5000\n1000\n@ 10.02\n5000\n2000\n@ 10.04\n5000\n")
    assert [s.t for s in samples] == [10.0, 10.02, 10.04]
    window = mean_power(samples, lambda lines: rails_to_watts(rails, lines))
    assert (window.mean_power_w, window.samples) == (7.5, 2)  # (5 + 10) / 2, last dropped
    assert window.seconds == pytest.approx(0.02)


def test_only_samples_in_the_timed_window_count():
    samples = parse_samples("".join(f"@ {t}\n{w}\n" for t, w in [(1, 9), (2, 3), (3, 5), (4, 9)]))
    window = mean_power(samples, lambda v: float(v[0]), timed=(1.5, 3.5))
    assert (window.mean_power_w, window.samples, window.seconds) == (4.0, 2, 2.0)
    with pytest.raises(ConfigError, match="no readable samples during the timed runs"):
        mean_power(samples, lambda v: float(v[0]), timed=(4.5, 5.0))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its parent is gone too
        return f.read().split(")")[-1].split()[0] != "Z"


def test_the_loop_samples_and_ends_with_its_connection(tmp_path):
    sensor = tmp_path / "power_mw"
    sensor.write_text("1500\n")
    sampler = BoardSampler(0.01, files=[str(sensor)])
    with connect(get_target("local")) as conn:
        sampler.start(conn)
        time.sleep(0.3)
        samples = sampler.stop(conn)
        assert len(samples) >= 5 and all(s.lines == ("1500",) for s in samples)
        sampler.start(conn)  # left running, as after Ctrl-C
        pid = int(sampler._pid)
        assert _alive(pid)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the sampler outlived its connection"
