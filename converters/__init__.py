"""Conversion subsystem, installed as ``bgnn_deploy.converters``.

Frontends (PyTorch, ONNX) -> one framework-free model description -> backends
(Keras + Larq -> LCE flatbuffer). Built in the convert issue; nothing here yet.
"""
