"""How a backend is described in the registry.

A backend turns the model description into a deployable flatbuffer. ``write(model,
binary=..., debug=...)``: with ``binary`` the binary ops are kept (LCE's, for example),
without it the same description is written with float kernels only; ``debug`` adds each
layer's k-NN indices and node features as extra outputs, which the parity checks read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bgnn_deploy.converters.ir import GraphModel

__all__ = ["Backend"]


@dataclass(frozen=True)
class Backend:
    """One entry of :data:`~bgnn_deploy.converters.backends.BACKENDS`."""

    name: str
    summary: str  # for messages: what it writes
    write: Callable[..., bytes]  # write(model: GraphModel, *, binary, debug) -> flatbuffer

    def __call__(self, model: GraphModel, *, binary: bool, debug: bool = False) -> bytes:
        return self.write(model, binary=binary, debug=debug)
