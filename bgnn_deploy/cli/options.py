"""Option parsing and options shared by several commands."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from bgnn_deploy.errors import ConfigError

OverwriteDirOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Write into an existing folder: replace only this command's own files there "
        "and keep every other file.",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        show_default="$BGNN_DEPLOY_CONFIG, else ./bgnn-deploy.toml, else "
        "~/.config/bgnn-deploy/config.toml",
        help="Boards file (TOML, [targets.NAME] tables).",
    ),
]
OverwriteFileOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing output file.")
]


def finite(value: float | None) -> float | None:
    """Option callback: refuse nan and infinities (click's ranges let nan through)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def positive(value: float | None) -> float | None:
    """Option callback: a finite number above 0."""
    if finite(value) is not None and value <= 0:
        raise typer.BadParameter(f"must be above 0, got {value}")
    return value


def fraction(value: float | None) -> float | None:
    """Option callback: a finite number in [0, 1)."""
    if finite(value) is not None and not 0 <= value < 1:
        raise typer.BadParameter(f"must be in [0, 1), got {value}")
    return value


def parse_int_list(text: str, option: str) -> tuple[int, ...]:
    """``"64,64,128"`` -> ``(64, 64, 128)``, with an error naming the option otherwise."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{option} takes comma-separated integers, got '{text}'") from None
    if not values:
        raise ConfigError(f"{option} needs at least one integer")
    if min(values) < 1:
        raise ConfigError(f"{option} takes integers >= 1, got '{text}'")
    return values
