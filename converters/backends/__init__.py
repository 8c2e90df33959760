"""Backends: :class:`~bgnn_deploy.converters.ir.GraphModel` -> a deployable file."""
