"""Board profiles as data: the built-in ``targets/profiles/*.toml`` plus the user's boards.

The user's boards come from the configuration file (``targets/config.py`` finds it and
checks every key): a ``[targets.NAME]`` table inherits a built-in profile with
``profile = "rpi4"`` and overrides any of its fields::

    [targets.my-pi]
    profile = "rpi4"
    host = "192.168.1.20"
    user = "pi"
"""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bgnn_deploy.targets.config import ARCHES, read_boards, validate_board

from bgnn_deploy.errors import ConfigError, unknown_name

__all__ = ["TargetProfile", "builtin_tables", "get_target", "list_targets"]

PROFILE_DIR = Path(__file__).parent / "profiles"


@dataclass(frozen=True)
class TargetProfile:
    name: str
    arch: str
    emulated: bool = False
    transport: str = "local"  # local | ssh
    launcher: tuple[str, ...] = ()  # e.g. qemu-aarch64 -L <sysroot>
    runtime: str = "tflite-c"  # tflite-c (TFLite C API) | litert (LiteRt CompiledModel API)
    profile: str | None = None  # the built-in profile a user's board inherits from
    host: str | None = None
    # SSH connection: each overrides ~/.ssh/config for this board
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    proxyjump: str | None = None
    workdir: str | None = None  # the board's folder for our files (default ~/.cache/bgnn-deploy)
    cores: int | None = None
    glibc: str | None = None
    energy: str = "none"
    notes: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # the energy probe's own keys


def _host_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _from_table(name: str, table: dict[str, Any], source: str) -> TargetProfile:
    known = {f.name for f in fields(TargetProfile)} - {"name", "source", "extra"}
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


def builtin_tables() -> dict[str, dict[str, Any]]:
    """The built-in profiles as their TOML tables, by name."""
    tables = {}
    for path in sorted(PROFILE_DIR.glob("*.toml")):
        table = tomllib.loads(path.read_text())
        tables[table["name"]] = validate_board(table["name"], table, f"built-in {path.name}")
    return tables


def list_targets(config: Path | str | None = None) -> dict[str, TargetProfile]:
    """Built-in profiles, then the user's boards (which may replace a built-in by name).

    ``config`` is an explicit configuration file (``--config``); without it the file is
    looked up as ``targets/config.py`` says."""
    builtins = builtin_tables()
    targets = {
        name: _from_table(name, table, f"built-in {name}.toml") for name, table in builtins.items()
    }
    for board in read_boards(config):
        table = board.table
        parent = table.get("profile")
        if parent is not None:
            if parent not in builtins:
                error = unknown_name("built-in profile", parent, builtins)
                raise ConfigError(
                    f"{board.source}: target '{board.name}': {error}", hint=error.hint
                )
            table = {**builtins[parent], **table}
        targets[board.name] = _from_table(board.name, table, board.source)
    return targets


def get_target(name: str | TargetProfile, *, config: Path | str | None = None) -> TargetProfile:
    """The profile called ``name`` (a profile passes through unchanged)."""
    if isinstance(name, TargetProfile):
        return name
    targets = list_targets(config)
    if name not in targets:
        raise unknown_name("target", name, targets)
    return targets[name]
