"""`run --energy` end to end on the local target: a fake external meter, fake RAPL, INA3221
(both layouts) and RPi 5 PMIC sensors in the documented formats, and the not-available
cases."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest


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


def test_external_meter(cli, converted, tmp_path, monkeypatch):
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


def test_rapl_counters(cli, converted, tmp_path, monkeypatch):
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


def rising(path, start: float, per_second: float, stop: threading.Event) -> threading.Thread:
    """Rewrite a sensor file with a value that grows with time, as the load comes on."""
    t0 = time.monotonic()

    def loop():
        while not stop.wait(0.01):
            path.write_text(f"{start + per_second * (time.monotonic() - t0):.0f}\n")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def check_energy(report, probe: str, source: str):
    assert report["energy"]["available"] and report["energy"]["probe"] == probe
    assert source in report["energy"]["source"]
    assert report["energy"]["idle_samples"] >= 10  # sampled on the target at ~50 Hz
    for result in report["results"]:
        e = result["energy"]
        # the timed runs of the rounds together last as long as the idle window, and the
        # energy window is theirs: the probe samples each round's timed runs
        assert result["timed_s"] >= 0.5 - 1e-3
        assert e["window_s"] == pytest.approx(result["timed_s"])
        assert e["samples"] >= 10 and e["sampling_rate_hz"] > 10
        expected = max(e["active_power_w"] - e["idle_power_w"], 0) * result["latency_ms"]["median"]
        assert e["energy_per_inference_mj"] == pytest.approx(expected)
    return report


def test_ina3221_hwmon(cli, converted, tmp_path, monkeypatch):
    # JetPack 5/6: VDD_IN 5 V; its current rises during the test (the runs come after idle)
    hwmon = tmp_path / "sys/bus/i2c/devices/1-0040/hwmon/hwmon3"
    hwmon.mkdir(parents=True)
    files = {
        "name": "ina3221",
        "in1_label": "VDD_IN",
        "in1_input": "5000",
        "curr1_input": "1000",
        "in2_label": "VDD_CPU_GPU_CV",
        "in2_input": "5000",
        "curr2_input": "4000",
        "in7_label": "sum of shunt voltages",
        "in7_input": "80",
        "curr7_input": "900",
    }
    for name, text in files.items():
        (hwmon / name).write_text(text + "\n")
    # another hwmon device on the bus that is not an INA3221 is ignored
    other = tmp_path / "sys/bus/i2c/devices/1-0041/hwmon/hwmon4"
    other.mkdir(parents=True)
    (other / "name").write_text("tmp451\n")
    (other / "in1_label").write_text("VDD_IN\n")
    stop = threading.Event()
    thread = rising(hwmon / "curr1_input", 1000, 400, stop)  # +400 mA/s at 5 V: +2 W/s
    try:
        profile(tmp_path, monkeypatch, f'energy = "ina3221"\nsensor_root = "{tmp_path / "sys"}"\n')
        report = check_energy(
            run_json(cli, converted / "builtin" / "binary.tflite"), "ina3221", "VDD_IN"
        )
    finally:
        stop.set()
        thread.join()
    idle = report["energy"]["idle_power_w"]
    assert 5.0 <= idle < 5.0 + 2.0 * 3  # VDD_IN only (5 V x >= 1 A), never + the 20 W rail
    binary, float_ = (r["energy"] for r in report["results"])
    assert idle < binary["active_power_w"] < float_["active_power_w"]  # later, so higher


def test_ina3221_iio_jetpack4(cli, converted, tmp_path, monkeypatch):
    # JetPack 4, no VDD_IN rail: the rails are summed and the source says so
    device = tmp_path / "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    device.mkdir(parents=True)
    for n, (rail, mw) in enumerate([("POM_5V_GPU", 1200), ("POM_5V_CPU", 800), ("NC", 999)]):
        (device / f"rail_name_{n}").write_text(rail + "\n")
        (device / f"in_power{n}_input").write_text(f"{mw}\n")
    profile(tmp_path, monkeypatch, f'energy = "ina3221"\nsensor_root = "{tmp_path / "sys"}"\n')
    report = check_energy(
        run_json(cli, converted / "builtin" / "binary.tflite"), "ina3221", "sum of rails"
    )
    assert report["energy"]["idle_power_w"] == pytest.approx(2.0)  # 1.2 W + 0.8 W, NC skipped
    assert all(r["energy"]["energy_per_inference_mj"] == 0 for r in report["results"])


def test_rpi5_pmic(cli, converted, tmp_path, monkeypatch):
    # a stand-in for `vcgencmd pmic_read_adc` printing its documented format
    fake = tmp_path / "vcgencmd"
    fake.write_text(
        "#!/bin/sh\n"
        "printf '     3V3_SYS_A current(1)=0.50000000A\\n'\n"
        "printf '    VDD_CORE_A current(7)=2.00000000A\\n'\n"
        "printf '     3V3_SYS_V volt(9)=3.30000000V\\n'\n"
        "printf '    VDD_CORE_V volt(15)=0.90000000V\\n'\n"
        "printf '       EXT5V_V volt(24)=5.10000000V\\n'\n"
    )
    fake.chmod(0o755)
    profile(
        tmp_path,
        monkeypatch,
        f'energy = "rpi5-pmic"\npmic_command = "{fake} pmic_read_adc"\nenergy_interval_s = 0.02\n',
    )
    report = check_energy(
        run_json(cli, converted / "builtin" / "binary.tflite"), "rpi5-pmic", "PMIC rails"
    )
    assert report["energy"]["idle_power_w"] == pytest.approx(0.5 * 3.3 + 2.0 * 0.9)


def test_not_available_says_why(cli, converted, tmp_path, monkeypatch):
    profile(tmp_path, monkeypatch, 'energy = "rpi5-pmic"\npmic_command = "vcgencmd-absent"\n')
    report = run_json(cli, converted / "builtin" / "binary.tflite")
    assert report["energy"] == {
        "available": False,
        "probe": "rpi5-pmic",
        "reason": report["energy"]["reason"],
    }
    assert "vcgencmd-absent cannot run on metered" in report["energy"]["reason"]
    profile(tmp_path, monkeypatch, f'energy = "ina3221"\nsensor_root = "{tmp_path}"\n')
    reason = run_json(cli, converted / "builtin" / "binary.tflite")["energy"]["reason"]
    assert reason.startswith(f"no INA3221 rails under {tmp_path}/bus/i2c on metered")
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


def test_unknown_probe(cli, converted, tmp_path, monkeypatch):
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
