"""The user's configuration file: where it is found, and the boards it declares.

The file is TOML, found at ``--config FILE``, else ``$BGNN_DEPLOY_CONFIG``, else
``./bgnn-deploy.toml``, else ``bgnn-deploy/config.toml`` in the user config dir
(``$XDG_CONFIG_HOME``, default ``~/.config``). Each board is a table ``[targets.NAME]``;
``profile`` names a built-in profile whose fields it inherits, and its own keys win::

    [targets.lab-pi]
    profile = "rpi4"              # arch, runtime, energy probe... of the built-in rpi4
    host = "lab-pi"               # a Host of ~/.ssh/config, or an address
    port = 2222                   # optional: port, user, identity_file, known_hosts, workdir

The older per-user file ``targets.toml`` in the same folder (or ``$BGNN_DEPLOY_TARGETS``),
one top-level table per board, is still read, with the same keys.

Every table is checked against one schema (:data:`KEYS`) when it is read: an unknown key
is named with the closest known one, a wrong type with the type expected, and
``transport``, ``arch``, ``runtime`` and ``energy`` must come from their closed sets.

>>> validate_board("b", {"profile": "rpi4", "host": "pi", "port": 22}, "x.toml")
{'profile': 'rpi4', 'host': 'pi', 'port': 22}
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgnn_deploy.errors import ConfigError

__all__ = [
    "ARCHES",
    "KEYS",
    "RUNTIMES",
    "TRANSPORTS",
    "BoardTable",
    "config_file",
    "legacy_targets_file",
    "read_boards",
    "validate_board",
]

ARCHES = ("aarch64", "x86_64")
TRANSPORTS = ("local", "ssh")
RUNTIMES = ("tflite-c", "litert")


def _probe_names() -> tuple[str, ...]:
    from bgnn_deploy.targets.energy import PROBES

    return tuple(PROBES)


@dataclass(frozen=True)
class Key:
    """One key a board table may hold: its type, and the values allowed (if a closed set)."""

    types: tuple[type, ...]
    expected: str  # the type as the error names it
    help: str
    choices: Callable[[], tuple[str, ...]] | None = None
    check: Callable[[Any], str | None] | None = None  # a message when the value is wrong


def _port(value: int) -> str | None:
    return None if 1 <= value <= 65535 else "must be between 1 and 65535"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def _strings(value: list) -> str | None:
    return None if all(isinstance(v, str) for v in value) else "must be a list of strings"


_STR, _INT, _BOOL = ((str,), "a string"), ((int,), "an integer"), ((bool,), "true or false")
KEYS: dict[str, Key] = {
    "profile": Key(*_STR, "a built-in profile to inherit every field from"),
    "name": Key(*_STR, "the profile's name (built-in files; a board's is its table name)"),
    "arch": Key(*_STR, "CPU architecture", choices=lambda: (*ARCHES, "host")),
    "transport": Key(*_STR, "how the board is reached", choices=lambda: TRANSPORTS),
    "runtime": Key(
        *_STR, "the runtime library the runner uses", choices=lambda: (*RUNTIMES, "host")
    ),
    "emulated": Key(*_BOOL, "timings are emulated (qemu), never board figures"),
    "launcher": Key(
        (list,), "a list of strings", "command prefix, e.g. qemu-aarch64", check=_strings
    ),
    "host": Key(*_STR, "a Host of ~/.ssh/config, or an address"),
    "port": Key(*_INT, "SSH port", check=_port),
    "user": Key(*_STR, "SSH user"),
    "identity_file": Key(*_STR, "SSH private key"),
    "known_hosts": Key(*_STR, "known_hosts file checked strictly"),
    "proxyjump": Key(*_STR, "one jump host, [user@]host[:port] or a Host alias"),
    "workdir": Key(
        *_STR, "folder on the board for bgnn-deploy's files (default ~/.cache/bgnn-deploy)"
    ),
    "cores": Key(*_INT, "CPU cores", check=lambda v: None if v >= 1 else "must be at least 1"),
    "glibc": Key(*_STR, "the glibc the board is expected to have (documentation)"),
    "energy": Key(*_STR, "energy probe", choices=_probe_names),
    "notes": Key(*_STR, "free text"),
    "energy_command": Key((str, list), "a string or a list of strings", "external meter command"),
    "energy_interval_s": Key((int, float), "a number", "probe sampling interval", check=_positive),
    "powercap_root": Key(*_STR, "RAPL powercap sysfs folder (rapl probe)"),
    "sensor_root": Key(*_STR, "sysfs root of the INA3221 (ina3221 probe)"),
    "pmic_command": Key(*_STR, "command printing the PMIC's readings (rpi5-pmic probe)"),
}


@dataclass(frozen=True)
class BoardTable:
    """One validated board table and the file it came from."""

    name: str
    table: dict[str, Any]
    source: str


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def validate_board(name: str, table: dict[str, Any], source: str) -> dict[str, Any]:
    """``table`` checked against :data:`KEYS` (returned as it is), or a ConfigError naming
    the file, the board and the key."""
    where = f"{source}: target '{name}'"
    for key, value in table.items():
        spec = KEYS.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, KEYS, n=1)
            raise ConfigError(
                f"{where}: unknown key '{key}'",
                hint=f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(KEYS)}",
            )
        # bool is an int in Python: a port = true is still the wrong type
        wrong = not isinstance(value, spec.types) or (
            isinstance(value, bool) and bool not in spec.types
        )
        if wrong:
            raise ConfigError(
                f"{where}: {key} must be {spec.expected}, got {_type_name(value)} ({value!r})",
                hint=f"{key}: {spec.help}",
            )
        if spec.choices is not None and value not in spec.choices():
            valid = spec.choices()
            close = difflib.get_close_matches(value, valid, n=1)
            raise ConfigError(
                f"{where}: {key} '{value}' is not one of {', '.join(valid)}",
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        problem = spec.check(value) if spec.check is not None else None
        if problem:
            raise ConfigError(f"{where}: {key} {problem}, got {value!r}")
    return table


def _user_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "bgnn-deploy"


def config_file(explicit: Path | str | None = None) -> Path | None:
    """The configuration file in force, or None when there is none.

    An explicit path (``--config``) or ``$BGNN_DEPLOY_CONFIG`` must exist; the two
    default places are used only when they do."""
    for given, what in ((explicit, "--config"), (os.environ.get("BGNN_DEPLOY_CONFIG"), None)):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"config file not found: {path}"
                    + (f" (from {what})" if what else " (from $BGNN_DEPLOY_CONFIG)"),
                    hint="give the path of a TOML file with [targets.NAME] tables",
                )
            return path
    for path in (Path.cwd() / "bgnn-deploy.toml", _user_config_dir() / "config.toml"):
        if path.is_file():
            return path
    return None


def legacy_targets_file() -> Path | None:
    """The older per-user boards file (one top-level table per board), if present."""
    env = os.environ.get("BGNN_DEPLOY_TARGETS")
    path = Path(env).expanduser() if env else _user_config_dir() / "targets.toml"
    return path if path.is_file() else None


def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None


def _tables(tables: dict[str, Any], source: str, prefix: str) -> list[BoardTable]:
    boards = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: '{prefix}{name}' must be a table ([{prefix}{name}])")
        boards.append(BoardTable(name, validate_board(name, table, source), source))
    return boards


def read_boards(config: Path | str | None = None) -> list[BoardTable]:
    """The user's boards: the older targets.toml first, then the config file (a board of
    the config file replaces one of the same name)."""
    boards: list[BoardTable] = []
    legacy = legacy_targets_file()
    if legacy is not None:
        boards += _tables(_load(legacy), str(legacy), "")
    path = config_file(config)
    if path is not None:
        data = _load(path)
        unknown = sorted(set(data) - {"targets"})
        if unknown:
            close = difflib.get_close_matches(unknown[0], ["targets"], n=1)
            raise ConfigError(
                f"{path}: unknown top-level key '{unknown[0]}' (boards go in [targets.NAME])",
                hint="did you mean 'targets'?" if close else None,
            )
        targets = data.get("targets", {})
        if not isinstance(targets, dict):
            raise ConfigError(f"{path}: 'targets' must hold tables ([targets.NAME])")
        boards += _tables(targets, str(path), "targets.")
    return boards
