"""What every frontend delivers, and how one is described in the registry.

A frontend reads one kind of model file into the model description
(:class:`~bgnn_deploy.converters.ir.GraphModel`) and gives ``convert`` the reference
to prove the conversion against: a trace of the source model itself (PyTorch, ONNX
Runtime on the user's file) with its logits and each layer's k-NN and node features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bgnn_deploy.converters.ir import GraphModel

__all__ = ["Frontend", "Source", "Trace"]

#: ``trace(cloud [N, 3]) -> {"logits", "knn<i>", "nodes<i>", "input<i>"}``
Trace = Callable[[np.ndarray], dict]


@dataclass
class Source:
    """A model read by a frontend: the description and the references to check against."""

    description: GraphModel
    arch: str  # what report.json calls the model (an architecture, or onnx:FILE)
    config: dict
    trace: Trace  # the source model on one cloud
    reference_name: str  # e.g. "PyTorch", "ONNX Runtime"
    num_points: int
    classes: int
    float_trace: Trace | None = None  # the float baseline's reference, where one exists
    # why float.tflite is not checked, when float_trace is None (report.json parity.unchecked)
    float_unchecked: str | None = None
    export_onnx: Callable[[Path], None] | None = None  # writes model.onnx, where it can
    notes: tuple[str, ...] = ()  # what the user should know about this source (report.json)


@dataclass(frozen=True)
class Frontend:
    """One entry of :data:`~bgnn_deploy.converters.frontends.FRONTENDS`.

    ``formats`` are the kinds of file (as :func:`~.formats.sniff` names them) it reads;
    ``load(path, arch=..., sizes=...)`` reads one into a :class:`Source`."""

    name: str
    summary: str  # for messages: what it reads, in a few words
    formats: tuple[str, ...]
    load: Callable[..., Source]
    takes_arch: bool = False  # whether --arch and the size options mean anything to it

    def __call__(self, path: Path, *, arch: str | None, sizes: dict[str, Any] | None) -> Source:
        return self.load(path, arch=arch, sizes=sizes)
