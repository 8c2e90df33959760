"""A board over SSH (paramiko), with OpenSSH's habits: ~/.ssh/config (HostName, User,
Port, IdentityFile, ProxyJump), agent and default keys, and strict host-key checking
against known_hosts. An unknown key is refused with its fingerprint and the way to
accept it; a changed key is always refused.

Uploads go to a content-addressed cache on the board (``blobs`` in the profile's
``workdir``, default ``~/.cache/bgnn-deploy``),
so an unchanged runner, library or model is never sent twice, and they are atomic: a
file is written under a temporary name and renamed, so an interrupted upload never
leaves a file that looks complete.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shlex
import stat
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

__all__ = ["SshConnection", "fingerprint"]

REMOTE_CACHE = ".cache/bgnn-deploy"


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
        self._sftp = self._client.open_sftp()
        self._home = self._sftp.normalize(".")
        return self._client

    def close(self) -> None:
        if self._temps and self._client is not None:
            with contextlib.suppress(Exception):  # best effort: never mask the real error
                self.run(["rm", "-f", *self._temps], check=False, timeout=10)
        self._temps = []
        for thing in (self._sftp, self._client, self._jump):
            if thing is not None:
                thing.close()
        self._sftp = self._client = self._jump = None

    # -- commands ---------------------------------------------------------------------------
    def run(self, cmd: list[str], *, timeout: float = 600, check: bool = True) -> RunResult:
        client = self._open()
        command = shlex.join(cmd)  # every argument quoted: the remote shell sees literals
        start = time.perf_counter()
        try:
            _, stdout, stderr = client.exec_command(command, timeout=timeout)
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            code = stdout.channel.recv_exit_status()
        except TimeoutError:
            raise TransportError(
                f"'{cmd[0]}' did not finish within {timeout:.0f} s on {self.target.name}"
            ) from None
        result = RunResult(list(cmd), code, out, err, time.perf_counter() - start)
        if check and code != 0:
            raise RemoteCommandError(result, self.target.name)
        return result

    def kill(self, marker: str) -> None:
        # A closed channel does not stop a command that has no terminal: find it by name.
        with contextlib.suppress(Exception):
            self.run(["pkill", "-f", marker], check=False, timeout=10)

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
        with contextlib.suppress(OSError):  # already there: an SFTP stat, no command
            if stat.S_ISREG(self._sftp.stat(remote).st_mode or 0):
                return remote, False
        self.run(["mkdir", "-p", folder])
        partial = f"{remote}.part-{uuid.uuid4().hex[:8]}"
        try:
            self._sftp.put(str(local), partial)
            self._sftp.chmod(partial, local.stat().st_mode & 0o777)
            self._sftp.posix_rename(partial, remote)
        except BaseException:
            with contextlib.suppress(OSError):
                self._sftp.remove(partial)
            raise
        return remote, True

    def get(self, remote: str, local: Path) -> None:
        self._open()
        self._sftp.get(remote, str(local))

    def temp_path(self, name: str) -> str:
        self._open()
        folder = self._remote("tmp")
        if not self._temps:  # created once per connection
            self.run(["mkdir", "-p", folder])
        path = f"{folder}/{uuid.uuid4().hex[:12]}-{name}"
        self._temps.append(path)  # removed when the connection closes
        return path
