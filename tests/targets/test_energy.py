"""`run --energy`: a fake external meter, a fake RAPL tree, and the not-available cases."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from tests.targets.test_runner import converted  # noqa: F401  (module fixture)


def profile(tmp_path, monkeypatch, body: str) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[metered]\narch = "host"\ntransport = "local"\n' + body)
    monkeypatch.setenv("BGNN_DEPLOY_TARGETS", str(path))


def run_json(cli, model, *extra):
    result = cli(
        "run",
        model,
        "--target",
        "metered",
        "--num-runs",
        "3",
        "--energy",
        "--idle-secs",
        "0.5",
        "--json",
        *extra,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_external_meter(cli, converted, tmp_path, monkeypatch):  # noqa: F811
    # a meter whose reading grows with time: the runs, after the idle window, read higher
    start = tmp_path / "start"
    start.write_text(str(time.time()))
    meter = tmp_path / "meter.py"
    meter.write_text(
        f"import time; print(2.0 + time.time() - float(open({str(start)!r}).read()))\n"
    )
    profile(
        tmp_path,
        monkeypatch,
        f'energy = "external"\nenergy_command = "{sys.executable} {meter}"\n'
        "energy_interval_s = 0.02\n",
    )
    report = run_json(cli, converted / "builtin" / "binary.tflite")
    assert report["energy"]["available"] and report["energy"]["probe"] == "external"
    assert report["energy"]["idle_samples"] >= 2
    for result in report["results"]:
        e = result["energy"]
        assert e["samples"] >= 1 and e["sampling_rate_hz"] > 0
        assert e["active_power_w"] > e["idle_power_w"] >= 2.0
        expected = (e["active_power_w"] - e["idle_power_w"]) * result["latency_ms"]["median"]
        assert e["energy_per_inference_mj"] == pytest.approx(expected)


def test_rapl_counters(cli, converted, tmp_path, monkeypatch):  # noqa: F811
    package = tmp_path / "powercap" / "intel-rapl:0"
    package.mkdir(parents=True)
    counter, limit = package / "energy_uj", package / "max_energy_range_uj"
    limit.write_text("262143328850\n")
    counter.write_text("262143000000\n")  # wraps around during the test
    stop = threading.Event()

    def ten_watts():  # +1 J every 0.1 s
        value = 262143000000
        while not stop.wait(0.1):
            value = (value + 1_000_000) % 262143328850
            counter.write_text(f"{value}\n")

    thread = threading.Thread(target=ten_watts, daemon=True)
    thread.start()
    try:
        profile(
            tmp_path, monkeypatch, f'energy = "rapl"\npowercap_root = "{tmp_path / "powercap"}"\n'
        )
        report = run_json(cli, converted / "builtin" / "binary.tflite")
    finally:
        stop.set()
        thread.join()
    assert report["energy"]["probe"] == "rapl"
    assert 5.0 < report["energy"]["idle_power_w"] < 15.0  # 10 W, read at 0.1 s granularity


def test_not_available_says_why(cli, converted, tmp_path, monkeypatch):  # noqa: F811
    profile(tmp_path, monkeypatch, 'energy = "rpi5-pmic"\n')
    report = run_json(cli, converted / "builtin" / "binary.tflite")
    assert report["energy"] == {
        "available": False,
        "probe": "rpi5-pmic",
        "reason": report["energy"]["reason"],
    }
    assert "not sampled by this version" in report["energy"]["reason"]
    assert all("energy" not in r for r in report["results"])
    result = cli(
        "run",
        converted / "builtin" / "binary.tflite",
        "--target",
        "metered",
        "--num-runs",
        "1",
        "--energy",
        "--energy-probe",
        "none",
    )
    assert (
        result.exit_code == 0 and "energy: not available (target 'metered' has no" in result.stdout
    )


def test_unknown_probe(cli, converted, tmp_path, monkeypatch):  # noqa: F811
    profile(tmp_path, monkeypatch, "")
    result = cli(
        "run",
        converted / "builtin" / "binary.tflite",
        "--target",
        "metered",
        "--energy",
        "--energy-probe",
        "wattmeter",
    )
    assert result.exit_code == 2 and "unknown energy probe 'wattmeter'" in result.stderr
