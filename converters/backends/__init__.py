"""Backends: the model description -> a deployable file.

One module per backend, each defining a :class:`~.base.Backend` named ``BACKEND``;
:data:`BACKENDS` lists them by name and :func:`get_backend` looks one up (``convert``'s
``backend``). The fast path of ``converters/fusion`` is not a backend of its own: it
rewrites the LCE backend's flatbuffer.
"""

from __future__ import annotations

from bgnn_deploy.converters.backends import keras_lce
from bgnn_deploy.converters.backends.base import Backend

from bgnn_deploy.errors import unknown_name

__all__ = ["BACKENDS", "Backend", "get_backend"]

BACKENDS: dict[str, Backend] = {b.name: b for b in (keras_lce.BACKEND,)}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise unknown_name("backend", name, BACKENDS)
    return BACKENDS[name]
