"""The errors bgnn-deploy raises for problems a user can fix.

Library code raises these and never prints or exits; the CLI turns them into one
``error: ...`` line on stderr and an exit code. Anything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bgnn_deploy.results.records import RunReport


class BgnnDeployError(Exception):
    """Base of every error caused by the user's input, files or boards.

    ``hint`` is an optional second line telling the user what to do about it.
    """

    exit_code = 2
    #: What a measuring command (``run``) had measured when this error stopped it: the
    #: partial report, printed and kept; None for every other error. ``run`` sets it on
    #: any error that stops a run.
    partial_report: RunReport | None = None

    def __init__(
        self, message: str, *, hint: str | None = None, partial_report: RunReport | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.partial_report = partial_report


class RunInterrupted(BgnnDeployError):
    """The user stopped a run (Ctrl-C, SIGTERM); the board was cleaned up first."""

    exit_code = 130


class ConfigError(BgnnDeployError):
    """An option or model configuration that cannot work (unknown name, bad size)."""


class OutputError(ConfigError):
    """An output path that is taken (an existing file or folder without ``--overwrite``), in
    the way (a file where a folder must go, an input of the command) or not writable."""


class CheckpointError(BgnnDeployError):
    """A model file that is missing, unreadable, truncated or does not fit its architecture."""


class DataError(BgnnDeployError):
    """A data set that is missing, malformed or smaller than asked for."""


class ConversionError(BgnnDeployError):
    """A model that cannot be converted, or a converted model that failed its checks."""


class UnsupportedOpError(ConversionError):
    """A layer or ONNX node that no frontend or backend handles; the message names it."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> ConfigError:
    """Build the error for an unknown registry name, listing the valid ones and the closest."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    return ConfigError(f"unknown {kind} '{name}' (valid: {', '.join(valid)})", hint=hint)
