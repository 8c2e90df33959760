"""Run flatbuffers on the host: LCE's interpreter (Lce ops) or TFLite's (builtins only).

Outputs come back by name (the signature's output names: ``logits``, ``knn0``, ...),
because converters reorder a model's outputs.
"""

from __future__ import annotations

import numpy as np
from bgnn_deploy.converters.quiet import native_stderr_silenced
from bgnn_deploy.converters.tflite_model import read_model

from bgnn_deploy.errors import ConversionError

__all__ = ["HostInterpreter"]


class HostInterpreter:
    """One loaded flatbuffer. ``lce=True`` uses ``larq_compute_engine``'s interpreter."""

    def __init__(self, flatbuffer: bytes, *, lce: bool, num_threads: int = 1):
        model = read_model(flatbuffer)
        graph = model.subgraphs[0]
        by_index = {}
        if model.signatureDefs:
            by_index = {o.tensorIndex: o.name.decode() for o in model.signatureDefs[0].outputs}
        self.output_names = [by_index.get(t, graph.tensors[t].name.decode()) for t in graph.outputs]
        self.lce = lce
        try:
            with native_stderr_silenced():
                if lce:
                    from larq_compute_engine.tflite.python.interpreter import Interpreter

                    self._interp = Interpreter(flatbuffer, num_threads=num_threads)
                else:
                    import tensorflow as tf

                    self._interp = tf.lite.Interpreter(
                        model_content=bytes(flatbuffer), num_threads=num_threads
                    )
                    self._interp.allocate_tensors()
                    self._inputs = self._interp.get_input_details()
                    self._outputs = self._interp.get_output_details()
        except Exception as e:  # the interpreters raise RuntimeError/ValueError with text
            raise ConversionError(f"the host interpreter refused the model: {e}") from None

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run one input (with its batch dim of 1) and return every output by name."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.lce:
            raw = self._interp.predict(x)
            raw = raw if isinstance(raw, list) else [raw]
        else:
            self._interp.set_tensor(self._inputs[0]["index"], x)
            self._interp.invoke()
            raw = [self._interp.get_tensor(o["index"]) for o in self._outputs]
        return dict(zip(self.output_names, raw, strict=True))
