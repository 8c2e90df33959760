"""Board profiles as data: ``targets/profiles/*.toml`` plus the user's own file.

Users add boards in ``~/.config/bgnn-deploy/targets.toml`` (or ``$BGNN_DEPLOY_TARGETS``),
one table per board::

    [my-pi]
    arch = "aarch64"
    transport = "ssh"
    host = "192.168.1.20"
    runtime = "tflite-c"
"""

from __future__ import annotations

import os
import platform
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgnn_deploy.errors import ConfigError, unknown_name

__all__ = ["TargetProfile", "get_target", "list_targets"]

PROFILE_DIR = Path(__file__).parent / "profiles"
ARCHES = ("aarch64", "x86_64")


@dataclass(frozen=True)
class TargetProfile:
    name: str
    arch: str
    emulated: bool = False
    transport: str = "local"  # local | ssh
    launcher: tuple[str, ...] = ()  # e.g. qemu-aarch64 -L <sysroot>
    runtime: str = "tflite-c"  # tflite-c (TFLite C API) | litert (LiteRt CompiledModel API)
    host: str | None = None
    cores: int | None = None
    glibc: str | None = None
    energy: str = "none"
    notes: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _host_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _from_table(name: str, table: dict[str, Any], source: str) -> TargetProfile:
    known = {f for f in TargetProfile.__dataclass_fields__} - {"name", "source", "extra"}
    data = {k: v for k, v in table.items() if k in known}
    extra = {k: v for k, v in table.items() if k not in known and k != "name"}
    arch = data.get("arch", "host")
    if arch == "host":
        arch = _host_arch()
        if data.get("runtime", "host") == "host":
            data["runtime"] = "litert" if arch == "x86_64" else "tflite-c"
    if arch not in ARCHES:
        raise ConfigError(
            f"target '{name}' ({source}): arch '{arch}' unsupported (valid: {', '.join(ARCHES)})"
        )
    data["arch"] = arch
    if "launcher" in data:
        data["launcher"] = tuple(data["launcher"])
    return TargetProfile(name=name, source=source, extra=extra, **data)


def _user_file() -> Path:
    env = os.environ.get("BGNN_DEPLOY_TARGETS")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "bgnn-deploy" / "targets.toml"


def list_targets() -> dict[str, TargetProfile]:
    """Built-in profiles, then the user's (which may override a built-in by name)."""
    targets: dict[str, TargetProfile] = {}
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        table = tomllib.loads(path.read_text())
        targets[table["name"]] = _from_table(table["name"], table, f"built-in {path.name}")
    user = _user_file()
    if user.is_file():
        try:
            tables = tomllib.loads(user.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{user}: not valid TOML: {e}") from None
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{user}: '{name}' must be a table ([{name}])")
            targets[name] = _from_table(name, table, str(user))
    return targets


def get_target(name: str | TargetProfile) -> TargetProfile:
    if isinstance(name, TargetProfile):
        return name
    targets = list_targets()
    if name not in targets:
        raise unknown_name("target", name, targets)
    return targets[name]
