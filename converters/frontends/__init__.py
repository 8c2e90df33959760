"""Frontends: a trained model in some framework -> :class:`~bgnn_deploy.converters.ir.GraphModel`."""
