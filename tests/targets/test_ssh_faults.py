"""Faults over SSH against the loopback board: a runner killed on the board, a lost
connection (while a command runs, mid-upload), a full disk, a port that is not sshd,
SIGTERM and Ctrl-C to the CLI (one target and several), and two runs on one board."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import RunnerError, run_runner
from bgnn_deploy.targets.profiles import get_target
from bgnn_deploy.targets.transport import TransportError, connect

CLI = [sys.executable, "-m", "bgnn_deploy"]


@pytest.fixture
def trusted(board, targets_file):
    board.trust_host_key()
    targets_file.write_text(board.profile())
    return targets_file


def _processes(conn, text: str, start: str = "") -> list[tuple[str, str]]:
    """(pid, args) of the board's processes whose arguments start with ``start`` and hold
    ``text``, except the transport's own shells (the wrapper and its watchdog). The board
    is this machine: the CLI under test, with the same names in its arguments, is one."""
    found = []
    for line in conn.run(["ps", "-eo", "pid=,args="]).stdout.splitlines():
        pid, _, args = line.strip().partition(" ")
        if text in args and args.startswith(start) and "bgnn-watch" not in args:
            found.append((pid, args))
    return found


def _wait_for(predicate, seconds: float = 30, every: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s")


def _in_thread(fn):
    """Run ``fn`` in a thread; returns (thread, box) where box gets 'value' or 'error'."""
    box: dict = {}

    def work():
        try:
            box["value"] = fn()
        except BaseException as e:  # the test looks at it
            box["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, box


def test_a_runner_killed_on_the_board_is_named(trusted, converted):
    """`kill -9` of the runner (what the OOM killer does) is SIGKILL, not "signal 1"."""
    build = build_runner(get_target("test-board"))
    runs = "987651"  # long enough to be killed; identifies this runner on the board
    with connect(build.target) as conn, connect(build.target) as other:
        thread, box = _in_thread(
            lambda: run_runner(build, converted / "builtin" / "binary.tflite", num_runs=int(runs),
                               conn=conn)
        )  # fmt: skip
        try:
            found = _wait_for(lambda: _processes(other, f"--num_runs {runs} "))
            other.run(["kill", "-9", found[0][0]])
            thread.join(30)
        finally:
            other.kill(f"--num_runs {runs} ")
        assert not thread.is_alive()
    error = box.get("error")
    assert isinstance(error, RunnerError), box
    assert "signal 9 (SIGKILL: often the out-of-memory killer)" in str(error)
    assert error.result == {"stage": "crash", "signal": 9}


def _cut_off_while_a_command_runs(cut) -> None:
    """A command runs on the board until ``cut(conn, other, pid)`` ends its session: it is
    reported as a lost connection, and the board stops it with the session."""
    marker = f"bgnn-test-{uuid.uuid4().hex[:8]}"
    target = get_target("test-board")
    with connect(target) as conn, connect(target) as other:
        thread, box = _in_thread(
            lambda: conn.run(["python3", "-c", "import time; time.sleep(120)", marker],
                             check=False, timeout=60)
        )  # fmt: skip
        (pid, _), *_ = _wait_for(lambda: _processes(other, marker, start="python3"))
        cut(conn, other, pid)
        thread.join(30)
        assert not thread.is_alive()
        error = box.get("error")
        assert isinstance(error, TransportError), box
        assert "lost the connection to test-board while 'python3' ran" in str(error)
        # the board stopped the command with the session (SIGTERM, then SIGKILL after 2 s)
        _wait_for(lambda: not _processes(other, marker), seconds=10)
        with pytest.raises(TransportError, match="was lost"):
            conn.run(["true"])  # no paramiko error from a dead connection


def test_a_lost_connection_is_said_and_the_command_dies_with_it(trusted):
    def the_network_goes_away(conn, _other, _pid):
        conn._client.get_transport().sock.close()

    _cut_off_while_a_command_runs(the_network_goes_away)


def _session_sshd(conn, pid: str) -> str:
    """The sshd process serving the session that started ``pid`` (its nearest sshd parent)."""
    while pid not in ("", "0", "1"):
        pid = conn.run(["ps", "-o", "ppid=", "-p", pid]).stdout.strip()
        if conn.run(["ps", "-o", "comm=", "-p", pid]).stdout.strip() == "sshd":
            return pid
    raise AssertionError("no sshd parent")


def test_the_sessions_sshd_killed_is_a_lost_connection(trusted):
    """The board's sshd for this session dies (a reboot, an OOM kill of sshd)."""

    def sshd_killed(_conn, other, pid):
        os.kill(int(_session_sshd(other, pid)), signal.SIGKILL)

    _cut_off_while_a_command_runs(sshd_killed)


def test_an_upload_cut_off_is_a_transport_error(trusted, tmp_path, monkeypatch):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(4 << 20))
    with connect(get_target("test-board")) as conn:
        conn.run(["true"])
        real_put = conn._sftp.put

        def cut_put(local, remote, *args, **kwargs):
            def cut(sent, _total):
                if sent > 256 << 10:  # part of the file is on the board
                    conn._client.get_transport().sock.close()

            return real_put(local, remote, callback=cut)

        monkeypatch.setattr(conn._sftp, "put", cut_put)
        with pytest.raises(TransportError, match="lost the connection to test-board while sending"):
            conn.put(path)


def test_stale_partial_uploads_and_temp_files_are_swept(trusted):
    """A lost connection cannot remove its `.part-*` upload or its temp files (a killed
    `verify` leaves its outputs): the next connection removes those that are stale."""
    with connect(get_target("test-board")) as conn:
        folder = conn._remote("blobs", f"test-{uuid.uuid4().hex[:8]}")
        tmp = conn._remote("tmp")
        old = [f"{folder}/runner.part-0123abcd", f"{tmp}/{uuid.uuid4().hex[:12]}-outputs.raw"]
        new = [f"{folder}/model.tflite.part-4567ef01", f"{tmp}/{uuid.uuid4().hex[:12]}-x.raw"]
        conn.run(["mkdir", "-p", folder, tmp])
        conn.run(["touch", *new])
        conn.run(["touch", "-d", "-20 minutes", *old])
    with connect(get_target("test-board")) as conn:
        left = conn.run(["ls", folder, tmp]).stdout
        conn.run(["rm", "-rf", folder, *new])
    for path in old:
        assert path.rsplit("/", 1)[1] not in left
    for path in new:  # may be an upload or a run in progress
        assert path.rsplit("/", 1)[1] in left


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs the right to mount, as root in a container usually has)."""
    mount = tmp_path / "small disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_board_disk_is_one_error_naming_the_free_space(
    board, targets_file, small_disk, tmp_path
):
    board.trust_host_key()
    targets_file.write_text(board.profile(workdir=str(small_disk / "work")))
    path = tmp_path / "model.tflite"
    path.write_bytes(os.urandom(2 << 20))
    with connect(get_target("test-board")) as conn:
        with pytest.raises(TransportError) as err:
            conn.put(path)
        assert "its disk is full" in str(err.value) and "MiB free at" in str(err.value)
        assert "targets check" in err.value.hint
        assert ".part-" not in conn.run(["find", str(small_disk)]).stdout  # removed


def _cli_env(targets_file: Path, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGNN_DEPLOY_")}
    env.update(
        BGNN_DEPLOY_TARGETS=str(targets_file),
        BGNN_DEPLOY_SSH_CONFIG=str(tmp_path / "no-ssh-config"),
        BGNN_DEPLOY_DB=str(tmp_path / "results.sqlite"),
        XDG_CONFIG_HOME=str(tmp_path / "user-config"),
        COLUMNS="200",
    )
    return env


def test_a_port_that_is_not_sshd_is_one_error_line(board, targets_file, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def garbage():
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                peer.sendall(os.urandom(4096) + b"\r\n" + os.urandom(4096))
                time.sleep(0.5)

    threading.Thread(target=garbage, daemon=True).start()
    targets_file.write_text(board.profile(port=listener.getsockname()[1]))
    try:
        done = subprocess.run(
            [*CLI, "targets", "check", "test-board"],
            env=_cli_env(targets_file, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        listener.close()
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "cannot reach root@127.0.0.1" in errors[0], done.stderr


def test_two_runs_on_one_board_do_not_overlap(trusted, cli, converted):
    target = get_target("test-board")
    with connect(target) as first, connect(target) as second:
        first.lock_board()
        said: list[str] = []
        started = time.monotonic()
        with pytest.raises(TransportError, match="test-board is busy"):
            second.lock_board(wait_s=0.5, waiting=said.append)
        assert said == ["waiting up to 0.5 s for another run on test-board"]
        assert time.monotonic() - started < 10
        # a run on the busy board refuses clearly, before measuring anything
        result = cli(
            "run", converted / "builtin" / "binary.tflite", "--target", "test-board",
            "--num-runs", "1", "--board-wait", "0.5",
        )  # fmt: skip
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith("error: test-board is busy"), result.stderr
        first._client.get_transport().sock.close()  # a lost session releases the lock too
        second.lock_board(wait_s=20)


def _unique_models(converted: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The small model and its float baseline under names of their own, by which this
    test finds its runners among the board's processes."""
    tag = uuid.uuid4().hex[:8]
    binary, baseline = tmp_path / f"binary-{tag}.tflite", tmp_path / f"float-{tag}.tflite"
    binary.write_bytes((converted / "builtin" / "binary.tflite").read_bytes())
    baseline.write_bytes((converted / "builtin" / "float.tflite").read_bytes())
    return binary, baseline


def _runners(conn, model: Path) -> list[tuple[str, str]]:
    return _processes(conn, model.name, start="qemu-aarch64 ")


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_cli_once_the_baselines_run(args, env, watch, baseline: Path, count: int, how):
    """Start the CLI, wait until ``count`` runners of ``baseline`` run on the board (so the
    binary models were measured), send ``how``; returns the finished process. The runs
    asked for must outlast the signal's way in on a busy machine (2000 runs: seconds)."""
    proc = subprocess.Popen(
        [*CLI, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal: a suite started in the background by a non-interactive
        # shell (`make test &`) ignores SIGINT, and a child that inherits that never sees it
        preexec_fn=_sigint_default,
    )
    try:
        _wait_for(lambda: len(_runners(watch, baseline)) >= count, seconds=120)
        proc.send_signal(how)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def test_sigterm_to_the_cli_stops_the_run_like_ctrl_c(trusted, converted, tmp_path):
    binary, baseline = _unique_models(converted, tmp_path)
    args = ["run", binary, "--baseline", baseline, "--target", "test-board", "--num-runs", "2000",
            "--no-store"]  # fmt: skip
    with connect(get_target("test-board")) as watch:
        code, out, err = _stop_cli_once_the_baselines_run(
            args, _cli_env(trusted, tmp_path), watch, baseline, 1, signal.SIGTERM
        )
        assert code == 130, err
        assert "interrupted: the run on test-board was stopped" in err
        assert "measured before the failure" in err and "binary" in out  # what was measured
        _wait_for(lambda: not _runners(watch, baseline), seconds=10)  # runner gone


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_verify_leaves_the_board_clean(trusted, converted, tmp_path, how):
    """verify stopped while the runner writes its outputs: exit 130, the runner gone and
    none of the session's temp files (inputs, ``*-outputs.raw``) left on the board."""
    model, _ = _unique_models(converted, tmp_path)
    args = ["verify", model, "--target", "test-board", "--samples", "200"]
    with connect(get_target("test-board")) as watch:
        tmp = watch._remote("tmp")
        before = set(watch.run(["sh", "-c", f"mkdir -p {tmp} && ls {tmp}"]).stdout.split())
        code, _, err = _stop_cli_once_the_baselines_run(
            args, _cli_env(trusted, tmp_path), watch, model, 1, how
        )
        assert code == 130, err
        assert "interrupted" in err and "Traceback" not in err
        _wait_for(lambda: not _runners(watch, model), seconds=10)  # runner gone
        after = set(watch.run(["ls", tmp]).stdout.split())
        assert after <= before, after - before


def test_ctrl_c_with_several_targets_stops_them_all(board, trusted, converted, tmp_path):
    # the same board under two names with their own workdirs (and so their own run locks)
    trusted.write_text(board.profile() + board.profile("board-two", workdir=str(tmp_path / "two")))
    binary, baseline = _unique_models(converted, tmp_path)
    args = ["run", binary, "--baseline", baseline, "--target", "test-board",
            "--target", "board-two", "--num-runs", "2000", "--no-store"]  # fmt: skip
    with connect(get_target("test-board")) as watch:
        started = time.monotonic()
        code, out, err = _stop_cli_once_the_baselines_run(
            args, _cli_env(trusted, tmp_path), watch, baseline, 2, signal.SIGINT
        )
        assert code == 130, err
        assert err.count("interrupted: the commands on") == 2, err
        assert "test-board" in out and "board-two" in out and out.count("binary") >= 2, out
        _wait_for(lambda: not _runners(watch, baseline), seconds=10)
        assert time.monotonic() - started < 120
