"""A real OpenSSH server on 127.0.0.1 as a test board: its own host key, client key,
authorized_keys and port. Its profile runs the aarch64 runner under qemu."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@dataclass
class TestBoard:
    root: Path
    port: int
    host_key: Path
    client_key: Path
    known_hosts: Path
    process: subprocess.Popen

    def profile(self, name: str = "test-board", **overrides) -> str:
        fields = {
            "arch": "aarch64",
            "transport": "ssh",
            "host": "127.0.0.1",
            "port": self.port,
            "user": "root",
            "identity_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "runtime": "tflite-c",
            "emulated": True,
            "launcher": ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"],
            **overrides,
        }
        lines = [f"[{name}]"]
        for key, value in fields.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {str(value).lower()}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            elif isinstance(value, list):
                lines.append(
                    f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]"
                )
            else:
                lines.append(f'{key} = "{value}"')
        return "\n".join(lines) + "\n"

    def trust_host_key(self) -> None:
        public = (self.host_key.with_suffix(".pub")).read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")


def start_board(root: Path, *, sftp_start_dir: Path | None = None) -> TestBoard:
    """Start sshd; ``sftp_start_dir`` gives SFTP sessions their own starting folder, which
    bgnn-deploy takes as the board's home (a private blob cache, e.g. for cold runs).

    The board's shells get an empty HOME of their own (``root/home``) and a plain PATH, so
    that this machine's shell start-up files (which may run slow tools, or wait on a lock
    a killed process left) never run on the board."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    host_key = keygen(root / "host_key")
    client_key = keygen(root / "client_key")
    authorized = root / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {authorized}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
        f"SetEnv HOME={root / 'home'} PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n"
        "Subsystem sftp internal-sftp"
        + (f" -d {sftp_start_dir}" if sftp_start_dir is not None else "")
        + "\n"
    )
    with open(root / "sshd.log", "w") as log:  # sshd keeps its own copy of the descriptor
        process = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
        )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError(f"sshd did not start: {(root / 'sshd.log').read_text()}")
    return TestBoard(root, port, host_key, client_key, root / "known_hosts", process)
