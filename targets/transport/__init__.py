"""How bgnn-deploy reaches a target: the local machine or a board over SSH, one interface.

>>> from bgnn_deploy.targets.transport import connect
>>> from bgnn_deploy.targets.profiles import get_target
>>> with connect(get_target("local")) as conn:
...     conn.run(["echo", "it's here"]).stdout.strip()
"it's here"
"""

from __future__ import annotations

from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport.base import (
    Connection,
    RemoteCommandError,
    RunResult,
    TransportError,
)

__all__ = ["Connection", "RemoteCommandError", "RunResult", "TransportError", "connect"]


def connect(target: TargetProfile, *, accept_new_host_key: bool = False) -> Connection:
    """A (lazily opened) connection to ``target``; use it as a context manager."""
    if target.transport == "ssh":
        from bgnn_deploy.targets.transport.ssh import SshConnection

        return SshConnection(target, accept_new_host_key=accept_new_host_key)
    from bgnn_deploy.targets.transport.local import LocalConnection

    return LocalConnection(target)
