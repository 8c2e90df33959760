"""Frontends: a trained model in some framework -> :class:`..ir.GraphModel`."""
