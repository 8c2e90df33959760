"""The SSH transport against a real sshd on loopback: host keys, authentication,
unreachable boards, failing commands, awkward paths, cached uploads, and `run`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import pytest
from bgnn_deploy.targets.profiles import get_target
from bgnn_deploy.targets.transport import RemoteCommandError, TransportError, connect

from tests.targets.sshd import free_port, keygen


def test_unknown_host_key_is_refused_with_its_fingerprint(board, targets_file):
    targets_file.write_text(board.profile())
    with pytest.raises(TransportError) as err, connect(get_target("test-board")) as conn:
        conn.run(["true"])
    assert "is not in" in str(err.value) and "SHA256:" in str(err.value)
    assert "--accept-new-host-key" in err.value.hint


def test_accept_new_host_key_records_it(board, targets_file):
    targets_file.write_text(board.profile())
    with connect(get_target("test-board"), accept_new_host_key=True) as conn:
        assert conn.run(["echo", "hello"]).stdout == "hello\n"
    assert f"[127.0.0.1]:{board.port}" in board.known_hosts.read_text()
    with connect(get_target("test-board")) as conn:  # now known: no flag needed
        assert conn.run(["true"]).exit_code == 0


def test_changed_host_key_is_always_refused(board, targets_file, tmp_path):
    other = keygen(tmp_path / "other").with_suffix(".pub").read_text().split()
    board.known_hosts.write_text(f"[127.0.0.1]:{board.port} {other[0]} {other[1]}\n")
    targets_file.write_text(board.profile())
    for accept in (False, True):
        with (
            pytest.raises(TransportError, match="CHANGED"),
            connect(get_target("test-board"), accept_new_host_key=accept) as conn,
        ):
            conn.run(["true"])


def test_authentication_failure(board, targets_file, tmp_path):
    board.trust_host_key()
    stranger = keygen(tmp_path / "stranger")
    targets_file.write_text(board.profile(identity_file=str(stranger)))
    with (
        pytest.raises(TransportError, match=r"authentication failed for root@127\.0\.0\.1"),
        connect(get_target("test-board")) as conn,
    ):
        conn.run(["true"])


def test_a_key_with_a_passphrase_is_refused_without_asking(board, targets_file, tmp_path):
    """No passphrase is asked for, taken or kept: the user is sent to their agent."""
    board.trust_host_key()
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-pass", "-f", locked],
                   check=True)  # fmt: skip
    targets_file.write_text(board.profile(identity_file=str(locked)))
    with (
        pytest.raises(TransportError, match="protected by a passphrase") as err,
        connect(get_target("test-board")) as conn,
    ):
        conn.run(["true"])
    assert f"ssh-add {locked}" in err.value.hint and "s3cret" not in str(err.value)


def test_connection_refused(board, targets_file):
    targets_file.write_text(board.profile(port=free_port()))
    with (
        pytest.raises(TransportError, match="cannot reach"),
        connect(get_target("test-board")) as c,
    ):
        c.run(["true"])


def test_failing_command_carries_its_result(board, targets_file):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    with connect(get_target("test-board")) as conn:
        with pytest.raises(RemoteCommandError) as err:
            conn.run(["ls", "/no/such/place"])
        assert err.value.result.exit_code != 0 and "/no/such/place" in err.value.result.stderr
        # arguments reach the board literally: no shell expansion, quotes intact
        out = conn.run(["printf", "%s|", "$HOME", "it's", "a b", "*"]).stdout
        assert out == "$HOME|it's|a b|*|"


def test_uploads_are_cached_by_content(board, targets_file, tmp_path):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    path = tmp_path / "model with 'quotes' and spaces.bin"
    path.write_bytes(uuid.uuid4().bytes * 64)  # new content: not in the board's cache yet
    with connect(get_target("test-board")) as conn:
        remote, sent = conn.put(path)
        assert sent and remote.endswith(path.name)
        assert conn.put(path) == (remote, False)  # unchanged: not sent again
        assert conn.run(["stat", "-c", "%s", remote]).stdout.strip() == "1024"
        listing = conn.run(["ls", remote.rsplit("/", 1)[0]]).stdout
        assert ".part-" not in listing  # nothing half-written left behind


def test_run_on_the_ssh_board(cli, board, targets_file, converted, tmp_path):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    awkward = tmp_path / "my model's dir"
    shutil.copytree(converted / "builtin", awkward)
    result = cli(
        "run", awkward / "binary.tflite", "--target", "test-board", "--num-runs", "2", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["target"] == "test-board" and report["emulated"] is True
    assert [r["role"] for r in report["results"]] == ["binary", "float"]
    assert report["results"][0]["arch"] == "aarch64" and report["speedup"] > 0
    verify = cli(
        "verify", awkward / "binary.tflite", "--target", "test-board", "--samples", "1", "--json"
    )
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["argmax_agreement"] == 1.0


def test_run_on_a_config_board_that_inherits_a_built_in_profile(
    cli, board, targets_file, converted, tmp_path
):
    """`run --config` with a `[targets.NAME]` table: the emulated aarch64 profile's arch,
    launcher and runtime inherited, the SSH fields and the board's workdir its own."""
    board.trust_host_key()
    workdir = tmp_path / "board work"
    config = tmp_path / "boards.toml"
    config.write_text(
        "[targets.lab]\n"
        'profile = "qemu-aarch64"\n'
        'transport = "ssh"\n'
        'host = "127.0.0.1"\n'
        f"port = {board.port}\n"
        'user = "root"\n'
        f'identity_file = "{board.client_key}"\n'
        f'known_hosts = "{board.known_hosts}"\n'
        f'workdir = "{workdir}"\n'
    )
    model = converted / "builtin" / "binary.tflite"
    result = cli("run", model, "--target", "lab", "--num-runs", "2", "--json", "--config", config)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["target"] == "lab" and report["emulated"] is True
    assert report["results"][0]["arch"] == "aarch64"
    # the loopback board shares this filesystem: our files went to its workdir
    assert any((workdir / "blobs").rglob("binary.tflite"))


def test_cli_reports_an_unknown_host_key_cleanly(cli, board, targets_file, converted):
    targets_file.write_text(board.profile())
    result = cli("run", converted / "builtin" / "binary.tflite", "--target", "test-board")
    assert result.exit_code == 3 and result.stderr.startswith("error: ")
    assert "SHA256:" in result.stderr and "Traceback" not in result.output


def test_targets_check_on_the_ssh_board(cli, board, targets_file):
    board.trust_host_key()
    targets_file.write_text(board.profile() + board.profile("real-arm-board", emulated=False))
    result = cli("targets", "check", "test-board", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["reachable"] and facts["runner_ok"]
    # the board runs the runner under qemu: its facts are the guest's and the emulator's
    assert facts["arch"] == "aarch64" and facts["emulator"].startswith("qemu-aarch64 ")
    assert facts["host_cpu"] and facts["glibc"] is None
    assert facts["cores"] >= 1 and facts["free_disk_mb"] > 0
    # a profile claiming an aarch64 board that is not one: said, exit 3
    result = cli("targets", "check", "real-arm-board")
    assert result.exit_code == 3
    assert "the board is x86_64, the profile says aarch64" in result.stdout


def test_ctrl_c_stops_the_remote_process(board, targets_file):
    import threading
    import time

    board.trust_host_key()
    targets_file.write_text(board.profile())
    marker = f"bgnn-test-{uuid.uuid4().hex[:8]}"
    with connect(get_target("test-board")) as conn:
        thread = threading.Thread(
            # one long process with the marker in its arguments, as the runner has its --tag
            target=lambda: conn.run(
                ["python3", "-c", "import time; time.sleep(120)", marker], check=False, timeout=60
            )
        )
        started = time.time()
        thread.start()
        with connect(get_target("test-board")) as other:
            for _ in range(50):
                if marker in other.run(["ps", "-eo", "args"]).stdout:
                    break
                time.sleep(0.1)
            other.kill(marker)  # what run_runner does on KeyboardInterrupt
            thread.join(30)
            assert not thread.is_alive() and time.time() - started < 30
            assert marker not in other.run(["ps", "-eo", "args"]).stdout


def test_interrupted_upload_leaves_nothing_that_looks_complete(
    board, targets_file, tmp_path, monkeypatch
):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    path = tmp_path / "runner.bin"
    path.write_bytes(uuid.uuid4().bytes * 4096)
    with connect(get_target("test-board")) as conn:
        conn.run(["true"])
        real_put = conn._sftp.put

        def broken_put(local, remote, *args, **kwargs):
            real_put(local, remote, *args, **kwargs)  # the bytes arrive...
            raise OSError("connection lost")  # ...but the transfer is not confirmed

        monkeypatch.setattr(conn._sftp, "put", broken_put)
        with pytest.raises(TransportError, match=r"cannot send runner\.bin"):
            conn.put(path)  # the transport's own error, never paramiko's or OSError
        monkeypatch.setattr(conn._sftp, "put", real_put)
        remote, sent = conn.put(path)  # a retry sends it again: nothing counted as done
        assert sent
        folder = remote.rsplit("/", 1)[0]
        assert conn.run(["ls", folder]).stdout.split() == [path.name]


def test_parallel_targets_one_result_each(cli, board, targets_file, converted):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    result = cli(
        "run",
        converted / "builtin" / "binary.tflite",
        "--target",
        "test-board",
        "--target",
        "qemu-aarch64",
        "--target",
        "local",
        "--num-runs",
        "1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    runs = said["runs"]
    assert [r["target"] for r in runs] == ["test-board", "qemu-aarch64", "local"]
    assert all(len(r["results"]) == 2 for r in runs)
    # this x86_64 host runs LiteRt, the aarch64 boards the TFLite C API: said once
    labels = [{m["runtime_label"].split(" ")[0] for m in r["results"]} for r in runs]
    assert labels == [{"tflite-c"}, {"tflite-c"}, {"litert"}]
    (warning,) = said["warnings"]
    assert "2 runtimes" in warning and "not across them" in warning


def test_ssh_config_and_proxyjump(board, targets_file, tmp_path, monkeypatch):
    """The profile names only a Host alias; ~/.ssh/config gives HostName, Port, User,
    IdentityFile and a ProxyJump (through the same sshd)."""
    board.trust_host_key()
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jumpbox\n  HostName 127.0.0.1\n  Port {board.port}\n  User root\n"
        f"  IdentityFile {board.client_key}\n"
        f"Host arm-board\n  HostName 127.0.0.1\n  Port {board.port}\n  User root\n"
        f"  IdentityFile {board.client_key}\n  ProxyJump jumpbox\n"
    )
    monkeypatch.setenv("BGNN_DEPLOY_SSH_CONFIG", str(config))
    targets_file.write_text(
        f'[via-jump]\narch = "aarch64"\ntransport = "ssh"\nhost = "arm-board"\n'
        f'known_hosts = "{board.known_hosts}"\n'
    )
    with connect(get_target("via-jump")) as conn:
        assert conn.run(["echo", "through the jump host"]).stdout == "through the jump host\n"
        assert conn._jump is not None  # the hop was really taken
        temp = conn.temp_path("x.raw")
        conn.run(["touch", temp])
    with connect(get_target("via-jump")) as conn:
        assert conn.run(["test", "-e", temp], check=False).exit_code != 0  # temps cleaned up


def test_energy_sampled_on_the_ssh_board(cli, board, targets_file, converted, tmp_path):
    # JetPack 4 layout; the sampler runs on the board and is gone when the run ends
    device = tmp_path / "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    device.mkdir(parents=True)
    (device / "rail_name_0").write_text("VDD_IN\n")
    (device / "in_power0_input").write_text("4200\n")
    board.trust_host_key()
    targets_file.write_text(board.profile(energy="ina3221", sensor_root=str(tmp_path / "sys")))
    result = cli(
        "run", converted / "builtin" / "binary.tflite", "--target", "test-board",
        "--num-runs", "1", "--energy", "--idle-secs", "0.5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["energy"]["idle_power_w"] == pytest.approx(4.2)
    assert report["energy"]["idle_samples"] >= 10
    for r in report["results"]:
        assert r["energy"]["samples"] >= 10 and r["energy"]["active_power_w"] == pytest.approx(4.2)
    time.sleep(0.2)
    leftover = subprocess.run(["pgrep", "-f", "bgnn-power-sampler"], capture_output=True)
    assert leftover.stdout == b"", "a power sampler is still running on the board"
