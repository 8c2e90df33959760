"""Frontends: a trained model file -> the model description, plus its reference.

One module per frontend, each defining a :class:`~.base.Frontend` named ``FRONTEND``;
:data:`FRONTENDS` lists them by name. :func:`frontend_for` picks one by that name or by
what the file is (:func:`~.formats.sniff`), and names a file that no frontend reads for
what it is, with what to do instead.
"""

from __future__ import annotations

from pathlib import Path

from bgnn_deploy.converters.frontends import onnx_graphs, torch_models
from bgnn_deploy.converters.frontends.base import Frontend, Source
from bgnn_deploy.converters.frontends.formats import FOREIGN, sniff

from bgnn_deploy.errors import CheckpointError, unknown_name

__all__ = ["FRONTENDS", "Frontend", "Source", "frontend_for"]

FRONTENDS: dict[str, Frontend] = {f.name: f for f in (torch_models.FRONTEND, onnx_graphs.FRONTEND)}


def frontend_for(path: str | Path, name: str | None = None) -> Frontend:
    """The frontend called ``name``, else the one that reads this kind of file; a file of
    another kind is a :class:`CheckpointError` saying what it is and what to do."""
    if name is not None:
        if name not in FRONTENDS:
            raise unknown_name("frontend", name, FRONTENDS)
        return FRONTENDS[name]
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"model file not found: {path}")
    kind = sniff(path)
    for frontend in FRONTENDS.values():
        if kind in frontend.formats:
            return frontend
    readable = "; ".join(f"{f.summary} ({f.name})" for f in FRONTENDS.values())
    if kind in FOREIGN:
        what, instead = FOREIGN[kind]
        raise CheckpointError(f"{path} is {what}; convert reads {readable}", hint=instead)
    if kind == "folder":
        raise CheckpointError(f"expected a model file, got a folder: {path}")
    # no magic number we know: the PyTorch reader says what it sees
    return FRONTENDS["pytorch"]
