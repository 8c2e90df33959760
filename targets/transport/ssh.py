"""A board over SSH (paramiko), with OpenSSH's habits: ~/.ssh/config (HostName, User,
Port, IdentityFile, ProxyJump), agent and default keys, and strict host-key checking
against known_hosts. An unknown key is refused with its fingerprint and the way to
accept it; a changed key is always refused.

Uploads go to a content-addressed cache on the board (``blobs`` in the profile's
``workdir``, default ``~/.cache/bgnn-deploy``),
so an unchanged runner, library or model is never sent twice, and they are atomic: a
file is written under a temporary name and renamed, so an interrupted upload never
leaves a file that looks complete. Half-written uploads (``.part-*``) and temporary files
(``tmp``) that a lost connection left behind are removed on the next connection once they
are :data:`STALE_MINUTES` old.

Every command runs under a small POSIX sh wrapper (:data:`_WRAPPER`) that makes it die
with its session: when the channel closes (the client stopped, was killed, or the
connection was lost), the command is sent SIGTERM, then SIGKILL. The wrapper also turns
a death by signal N into exit status 128+N, which sshd would otherwise report as an
``exit-signal`` that paramiko drops. Only :class:`TransportError` and
:class:`RemoteCommandError` (and :class:`RunInterrupted` after :meth:`interrupt`) leave
this module: never a paramiko or socket error.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shlex
import stat
import threading
import time
import uuid
from pathlib import Path

import paramiko
from bgnn_deploy.targets.toolchain.cache import sha256_file
from bgnn_deploy.targets.transport.base import (
    Connection,
    RemoteCommandError,
    RunResult,
    TransportError,
)

from bgnn_deploy.errors import RunInterrupted

__all__ = ["STALE_MINUTES", "SshConnection", "fingerprint"]

REMOTE_CACHE = ".cache/bgnn-deploy"
#: Age after which a ``.part-*`` upload or a file in ``tmp`` counts as left behind.
STALE_MINUTES = 10

# paramiko logs a failed handshake (a port that is not sshd) with its own traceback
# through the root logger's last-resort handler; we raise one TransportError instead.
# An application that configures logging still receives paramiko's records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

#: ``sh -c _WRAPPER bgnn-watch CMD...``: CMD's stdin is /dev/null; a watchdog (a shell of
#: its own, whose arguments do not hold CMD's, so that ``pkill -f`` on CMD's spares it)
#: reads the channel's stdin, which ends only when the session does, and then stops CMD.
#: The exit status is CMD's, 128+N when a signal N killed it; a SIGTERM to the wrapper
#: (``pkill -f`` matches it too) is passed on to CMD, whose status it still reports.
_WRAPPER = r"""exec 3<&0
"$@" 3<&- </dev/null &
c=$!
sh -c 'while read -r _; do :; done; kill -TERM "$1"; sleep 2; kill -KILL "$1"' \
  bgnn-watchdog "$c" <&3 >/dev/null 2>&1 &
w=$!
exec 3<&-
trap 'kill -TERM "$c" 2>/dev/null' TERM
wait "$c"
s=$?
while kill -0 "$c" 2>/dev/null; do
  wait "$c"
  s=$?
done
kill "$w" 2>/dev/null
exit "$s"
"""

#: Removes what an interrupted session left behind in the board's folder ($1).
_SWEEP = r"""root=$1 age=$2
[ -d "$root/blobs" ] && find "$root/blobs" -name '*.part-*' -type f -mmin +"$age" \
  -exec rm -f {} + 2>/dev/null
[ -d "$root/tmp" ] && find "$root/tmp" -type f -mmin +"$age" -exec rm -f {} + 2>/dev/null
exit 0
"""

#: Holds the board's run lock ($1) for as long as the session lives (its stdin is open):
#: prints "busy" and waits up to $2 s when another session holds it, then "locked";
#: "no-flock" on a board without flock(1).
_LOCK = r"""command -v flock >/dev/null 2>&1 || { echo no-flock; exit 0; }
exec 9>>"$1" || exit 2
if ! flock -n 9; then
  echo busy
  flock -w "$2" 9 || exit 75
fi
echo locked
cat >/dev/null
"""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a host key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _resolve(alias: str, *, port=None, user=None, identity=None, proxyjump=None) -> dict:
    """Connection settings of a host alias through the SSH config; given values win."""
    config_path = Path(os.environ.get("BGNN_DEPLOY_SSH_CONFIG", Path.home() / ".ssh" / "config"))
    found: dict = {}
    if config_path.is_file():
        found = paramiko.SSHConfig.from_path(str(config_path)).lookup(alias)
    identity = identity or (found.get("identityfile") or [None])[0]
    return {
        "hostname": found.get("hostname", alias),
        "port": int(port or found.get("port") or 22),
        "user": user or found.get("user") or os.environ.get("USER", "root"),
        "identity": os.path.expanduser(identity) if identity else None,
        "proxyjump": proxyjump or found.get("proxyjump"),
    }


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: Path, accept_new: bool, target: str):
        self.known_hosts, self.accept_new, self.target = known_hosts, accept_new, target

    def missing_host_key(self, client, hostname, key):
        if not self.accept_new:
            raise TransportError(
                f"the host key of {hostname} ({key.get_name()} {fingerprint(key)}) is not in "
                f"{self.known_hosts}; refusing to connect to {self.target}",
                hint="compare it with the board's (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
                "then run again with --accept-new-host-key",
            )
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(self.known_hosts))


class SshConnection(Connection):
    def __init__(self, target, *, accept_new_host_key: bool = False, connect_timeout: float = 10):
        super().__init__(target)
        self.accept_new = accept_new_host_key
        self.connect_timeout = connect_timeout
        self._client: paramiko.SSHClient | None = None
        self._jump: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._home = ""
        self._temps: list[str] = []
        self._lock = threading.Lock()
        self._channels: set[paramiko.Channel] = set()
        self._interrupted = False
        self._dead = False  # the connection was lost: nothing more can be sent
        self._board_lock: paramiko.Channel | None = None

    # -- opening --------------------------------------------------------------------------
    def _settings(self) -> dict:
        """The profile's host resolved through ~/.ssh/config; the profile's fields win."""
        if not self.target.host:
            raise TransportError(f"target '{self.target.name}' has no host", hint="set host = ...")
        t = self.target
        return _resolve(
            t.host, port=t.port, user=t.user, identity=t.identity_file, proxyjump=t.proxyjump
        )

    def _known_hosts(self) -> Path:
        configured = self.target.known_hosts
        return (
            Path(os.path.expanduser(configured))
            if configured
            else Path.home() / ".ssh" / "known_hosts"
        )

    def _client_for(self, hostname: str, port: int, user: str, identity: str | None, sock=None):
        known = self._known_hosts()
        client = paramiko.SSHClient()
        if known.is_file():
            client.load_host_keys(str(known))
        client.set_missing_host_key_policy(_HostKeyPolicy(known, self.accept_new, self.target.name))
        where = f"{user}@{hostname}:{port}"
        try:
            client.connect(
                hostname,
                port=port,
                username=user,
                key_filename=identity,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                sock=sock,
                allow_agent=True,
                look_for_keys=identity is None,
            )
        except paramiko.BadHostKeyException as e:
            raise TransportError(
                f"the host key of {hostname} CHANGED (now {e.key.get_name()} "
                f"{fingerprint(e.key)}, {self._known_hosts()} has {fingerprint(e.expected_key)}): "
                "refusing to connect; this can be a different machine or an attack",
                hint=f"if the board was reinstalled: ssh-keygen -R '[{hostname}]:{port}' -f "
                f"{self._known_hosts()}",
            ) from None
        except paramiko.PasswordRequiredException:
            # never asked for, taken or kept: passphrases stay with the user's agent
            raise TransportError(
                f"the key for {where} ({identity or 'from ~/.ssh'}) is protected by a "
                "passphrase, which bgnn-deploy does not ask for",
                hint=f"add it to ssh-agent once: ssh-add {identity or '~/.ssh/id_ed25519'}",
            ) from None
        except paramiko.AuthenticationException:
            raise TransportError(
                f"authentication failed for {where}",
                hint="check User and IdentityFile (or the agent) for this host",
            ) from None
        except (
            paramiko.ssh_exception.NoValidConnectionsError,
            OSError,
            paramiko.SSHException,
        ) as e:
            if isinstance(e, TransportError):
                raise
            raise TransportError(f"cannot reach {where}: {e}") from None
        return client

    def _open(self) -> paramiko.SSHClient:
        if self._client is not None:
            return self._client
        s = self._settings()
        sock = None
        if s["proxyjump"]:
            # One hop, as OpenSSH's ProxyJump: [user@]host[:port] or a Host alias of the config.
            user, _, rest = s["proxyjump"].rpartition("@")
            host, _, port = rest.partition(":")
            j = _resolve(host, port=port or None, user=user or None)
            self._jump = self._client_for(j["hostname"], j["port"], j["user"], j["identity"])
            sock = self._jump.get_transport().open_channel(
                "direct-tcpip", (s["hostname"], s["port"]), ("127.0.0.1", 0)
            )
        self._client = self._client_for(s["hostname"], s["port"], s["user"], s["identity"], sock)
        try:
            self._sftp = self._client.open_sftp()
            self._home = self._sftp.normalize(".")
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise self._lost("while opening SFTP", e) from None
        # what an earlier, interrupted session left behind (a few ms: one command)
        self.run(["sh", "-c", _SWEEP, "bgnn-sweep", self._remote(), str(STALE_MINUTES)])
        return self._client

    def close(self) -> None:
        # also after an interrupt: it closed the command channels, not the connection. A
        # command channel of its own, not SFTP: Ctrl-C in the middle of an upload or a
        # download leaves the SFTP channel with a reply unread, and the next request on it
        # waits for ever.
        if self._temps and self._client is not None and not self._dead:
            with contextlib.suppress(Exception):  # best effort: never mask the real error
                self._exec(["rm", "-f", *self._temps], timeout=10, check=False)
        self._temps = []
        for thing in (self._board_lock, self._sftp, self._client, self._jump):
            if thing is not None:
                with contextlib.suppress(Exception):  # a lost connection cannot be closed
                    thing.close()
        self._sftp = self._client = self._jump = self._board_lock = None

    # -- commands ---------------------------------------------------------------------------
    def run(self, cmd: list[str], *, timeout: float = 600, check: bool = True) -> RunResult:
        self._raise_if_interrupted()
        return self._exec(cmd, timeout=timeout, check=check)

    def _exec(self, cmd: list[str], *, timeout: float, check: bool) -> RunResult:
        if self._dead:
            raise TransportError(f"the connection to {self.target.name} was lost")
        client = self._open()
        # every argument quoted: the remote shell sees literals, the wrapper runs them as is
        command = shlex.join(["sh", "-c", _WRAPPER, "bgnn-watch", *cmd])
        start = time.perf_counter()
        channel = None
        try:
            channel = client.get_transport().open_session(timeout=self.connect_timeout)
            channel.settimeout(timeout)
            with self._lock:
                self._channels.add(channel)
            channel.exec_command(command)
            out = channel.makefile("rb").read().decode(errors="replace")
            err = channel.makefile_stderr("rb").read().decode(errors="replace")
            code = channel.recv_exit_status()
        except TimeoutError:  # socket.timeout: closing the channel stops the command
            raise TransportError(
                f"'{cmd[0]}' did not finish within {timeout:.0f} s on {self.target.name}"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as e:
            self._raise_if_interrupted()
            raise self._lost(f"while '{cmd[0]}' ran", e) from None
        finally:
            if channel is not None:
                with self._lock:
                    self._channels.discard(channel)
                channel.close()
        if code == -1:  # no exit status: the channel or the connection went away
            self._raise_if_interrupted()
            raise self._lost(f"while '{cmd[0]}' ran")
        result = RunResult(list(cmd), code, out, err, time.perf_counter() - start)
        if check and code != 0:
            raise RemoteCommandError(result, self.target.name)
        return result

    def interrupt(self) -> None:
        self._interrupted = True
        with self._lock:
            channels = list(self._channels)
        for channel in channels:  # the wrapper on the board stops the command
            with contextlib.suppress(Exception):
                channel.close()

    def _raise_if_interrupted(self) -> None:
        if self._interrupted:
            raise RunInterrupted(f"interrupted: the commands on {self.target.name} were stopped")

    def _alive(self) -> bool:
        """Whether the connection still works: paramiko notices a closed socket only when
        it next reads, so a message is sent (SSH's ignore) to find out now."""
        transport = self._client.get_transport() if self._client is not None else None
        if transport is None or not transport.is_active():
            return False
        try:
            transport.send_ignore()
        except Exception:  # any failure to send means the same: it is gone
            return False
        return transport.is_active()

    def _lost(self, doing: str, cause: BaseException | None = None) -> TransportError:
        """The error for a connection that went away ``doing`` something."""
        said = f": {cause}" if cause is not None and str(cause) else ""
        if self._alive():
            return TransportError(f"the session on {self.target.name} ended {doing}{said}")
        self._dead = True
        return TransportError(
            f"lost the connection to {self.target.name} {doing}{said}",
            hint="check the board's network and power; its commands stop with the session",
        )

    def kill(self, marker: str) -> None:
        # The wrapper stops a command whose channel closed; this also stops one that was
        # started by another session (its wrapper's arguments hold the marker too).
        pattern = f"[{marker[:1]}]{marker[1:]}"  # matches the marker, not this pkill's wrapper
        with contextlib.suppress(Exception):
            self.run(["pkill", "-f", pattern], check=False, timeout=10)

    def lock_board(self, *, wait_s: float = 60, waiting=None) -> None:
        """Hold the board's run lock (``run.lock`` in its folder, with flock) until the
        connection closes or is lost; ``waiting(message)`` is told when another session
        holds it. After ``wait_s`` s of waiting: :class:`TransportError`. A board without
        flock(1) is not locked."""
        if self._board_lock is not None:
            return
        client = self._open()
        self.run(["mkdir", "-p", self._remote()])
        lock = self._remote("run.lock")
        try:
            channel = client.get_transport().open_session(timeout=self.connect_timeout)
            channel.settimeout(wait_s + 30)
            channel.exec_command(shlex.join(["sh", "-c", _LOCK, "bgnn-lock", lock, f"{wait_s:g}"]))
            reader = channel.makefile("rb")
            line = reader.readline().decode(errors="replace").strip()
            waited = line == "busy"
            if waited:
                if waiting is not None:
                    waiting(f"waiting up to {wait_s:g} s for another run on {self.target.name}")
                line = reader.readline().decode(errors="replace").strip()
        except (OSError, EOFError, paramiko.SSHException) as e:
            self._raise_if_interrupted()
            raise self._lost("while taking the board's run lock", e) from None
        if line == "no-flock":
            channel.close()
            return
        if line != "locked":
            channel.close()
            raise TransportError(
                f"{self.target.name} is busy: another run has held {lock} for more than "
                f"{wait_s:g} s"
                if waited
                else f"cannot take the run lock {lock} on {self.target.name}",
                hint="two runs at once on one board corrupt each other's timings; wait for "
                "the other run (or stop it), then run again",
            )
        self._board_lock = channel  # released when the session ends, however it ends

    # -- files ------------------------------------------------------------------------------
    def _remote(self, *parts: str) -> str:
        """A path under the board's folder for our files: the profile's ``workdir``
        (relative to the login's home unless absolute, ``~/`` allowed), else
        ``~/.cache/bgnn-deploy``."""
        base = self.target.workdir or REMOTE_CACHE
        if base == "~" or base.startswith("~/"):
            base = base[2:]
        root = (
            base.rstrip("/")
            if base.startswith("/")
            else "/".join(p for p in (self._home, base.rstrip("/")) if p)
        )
        return "/".join([root, *parts])

    def put(self, local: Path) -> tuple[str, bool]:
        self._open()
        local = Path(local)
        digest = sha256_file(local)
        folder = self._remote("blobs", digest[:24])
        remote = f"{folder}/{local.name}"
        try:
            if stat.S_ISREG(self._sftp.stat(remote).st_mode or 0):
                return remote, False  # already there: an SFTP stat, no command
        except FileNotFoundError:
            pass
        except (OSError, EOFError, paramiko.SSHException) as e:
            raise self._lost(f"while looking for {local.name}", e) from None
        self.run(["mkdir", "-p", folder])
        partial = f"{remote}.part-{uuid.uuid4().hex[:8]}"
        try:
            self._sftp.put(str(local), partial)
            self._sftp.chmod(partial, local.stat().st_mode & 0o777)
            self._sftp.posix_rename(partial, remote)
        except BaseException as e:
            if self._alive():
                with contextlib.suppress(Exception):
                    self._sftp.remove(partial)
            if isinstance(e, (OSError, EOFError, paramiko.SSHException)):
                raise self._upload_failed(local, folder, e) from None
            raise
        return remote, True

    def _upload_failed(self, local: Path, folder: str, cause: BaseException) -> TransportError:
        """Why sending ``local`` failed: a lost connection, a full disk, or the SFTP error."""
        lost = self._lost(f"while sending {local.name}", cause)
        if self._dead:
            return lost
        size_mb = local.stat().st_size / 2**20
        try:
            free = self.run(["df", "-Pk", folder], check=False).stdout.splitlines()[-1:]
        except TransportError:
            return self._lost(f"while sending {local.name}", cause)
        fields = free[0].split() if free else []
        free_mb = int(fields[3]) / 1024 if len(fields) > 3 and fields[3].isdigit() else None
        if free_mb is not None and free_mb < size_mb + 1:
            return TransportError(
                f"cannot send {local.name} ({size_mb:.1f} MiB) to {self.target.name}: its disk "
                f"is full ({free_mb:.1f} MiB free at {folder})",
                hint="free space on the board, or point the profile's workdir at a larger "
                "filesystem ('targets check' shows the free space)",
            )
        return TransportError(
            f"cannot send {local.name} to {self.target.name} ({folder}): SFTP said {cause}",
            hint="check that the board's workdir is writable and has space ('targets check')",
        )

    def get(self, remote: str, local: Path) -> None:
        self._open()
        try:
            self._sftp.get(remote, str(local))
        except (OSError, EOFError, paramiko.SSHException) as e:
            name = remote.rsplit("/", 1)[-1]
            lost = self._lost(f"while fetching {name}", e)
            if self._dead:
                raise lost from None
            raise TransportError(f"cannot fetch {name} from {self.target.name}: {e}") from None

    def temp_path(self, name: str) -> str:
        self._open()
        folder = self._remote("tmp")
        if not self._temps:  # created once per connection
            self.run(["mkdir", "-p", folder])
        path = f"{folder}/{uuid.uuid4().hex[:12]}-{name}"
        self._temps.append(path)  # removed when the connection closes
        return path
