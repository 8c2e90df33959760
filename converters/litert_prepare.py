"""Prepare a flatbuffer for the LiteRt CompiledModel API (libLiteRt.so, ai-edge-litert 2.x).

Four facts of that API (measured on libLiteRt) need the model changed, not the kernels.
The result computes exactly what the input does:

1. One user_data per custom op *name*, and Run is not told which node it serves: each
   custom node gets its own name, ``LceBconv2d#<n>``.
2. Absent optional inputs (index -1, e.g. LceBconv2d's thresholds) crash its custom-op
   dispatcher: they point at a 4-byte dummy int32 constant of shape [1] instead.
3. Constant inputs reach kernels without a copy and must be 64-byte aligned: every
   buffer is re-packed at a 64-byte boundary.
4. Kernels must report output shapes from input shapes alone, which the packed shape
   does not allow for LceDequantize (channels) and LceBconv2d (float or bit-packed):
   those facts are added to the op's custom options.

The input is a file of unknown origin: its structure is checked first (every index in
range, names and options decodable), and whatever else goes wrong reading it is a
:class:`CheckpointError` naming the file's problem, never another exception.
"""

from __future__ import annotations

import numpy as np
from bgnn_deploy.converters.tflite_model import read_model, tflite_schema

from bgnn_deploy.errors import BgnnDeployError, CheckpointError

__all__ = ["aligned_pack", "prepare_for_litert"]

ALIGNMENT = 64


def aligned_pack(model) -> bytes:
    """Serialize ``model`` with every buffer's data 64-byte aligned in the file."""
    import flatbuffers

    schema = tflite_schema()

    original = schema.BufferT.Pack

    def pack(self, builder):
        data = None
        if self.data is not None:
            raw = bytes(bytearray(self.data))
            builder.assertNotNested()
            builder.nested = True
            builder.Prep(ALIGNMENT, len(raw))  # the data's first byte lands on a boundary
            builder.head = builder.head - len(raw)
            builder.Bytes[builder.head : builder.head + len(raw)] = raw
            builder.vectorNumElems = len(raw)
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)

    schema.BufferT.Pack = pack
    try:
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    finally:
        schema.BufferT.Pack = original


def _structure_problem(model) -> str | None:
    """What makes ``model`` unusable (an index out of range, an undecodable name), or None."""
    if not model.subgraphs:
        return "it has no subgraph"
    graph = model.subgraphs[0]
    tensors, codes = graph.tensors or [], model.operatorCodes or []
    buffers = len(model.buffers or [])
    for t, tensor in enumerate(tensors):
        if not 0 <= int(tensor.buffer) < max(buffers, 1):
            return f"tensor {t} points at buffer {tensor.buffer} of {buffers}"
    for n, op in enumerate(graph.operators or []):
        if not 0 <= int(op.opcodeIndex) < len(codes):
            return f"operator {n} has operator code {op.opcodeIndex} of {len(codes)}"
        outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        if not outputs or not all(0 <= i < len(tensors) for i in outputs):
            return f"operator {n} has outputs {outputs} (the graph has {len(tensors)} tensors)"
        if not all(-1 <= i < len(tensors) for i in inputs):
            return f"operator {n} has inputs {inputs} (the graph has {len(tensors)} tensors)"
        custom = codes[op.opcodeIndex].customCode
        if custom:
            try:
                bytes(custom).decode()
            except UnicodeDecodeError:
                return f"operator {n} has a custom op name that is not UTF-8"
    return None


def prepare_for_litert(data: bytes) -> bytes:
    """The LiteRt form of the flatbuffer ``data`` (see above); CheckpointError if it is
    not a model this can prepare."""
    model = read_model(data)
    try:
        problem = _structure_problem(model)
        if problem is None:
            return _prepare(model)
    except BgnnDeployError:
        raise
    except Exception as e:  # a corrupt buffer can fail anywhere in the object API
        problem = f"{type(e).__name__}: {e}"
    raise CheckpointError(
        f"damaged TFLite flatbuffer: {problem}",
        hint="convert the model again; `bgnn-deploy inspect FILE` shows what it holds",
    )


def _prepare(model) -> bytes:
    from flatbuffers import flexbuffers

    schema = tflite_schema()
    graph = model.subgraphs[0]
    dummy_index = None
    counter = 0
    codes = list(model.operatorCodes)
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if not code.customCode:
            continue
        name = code.customCode.decode()
        try:
            options = (
                flexbuffers.Loads(bytes(bytearray(op.customOptions)))
                if op.customOptions is not None and len(op.customOptions)
                else {}
            )
        except Exception:  # the flexbuffers reader fails in many ways on garbage
            raise CheckpointError(
                f"damaged TFLite flatbuffer: {name}'s options are unreadable"
            ) from None
        if not isinstance(options, dict):
            raise CheckpointError(f"damaged TFLite flatbuffer: {name}'s options are not a map")
        out = graph.tensors[int(op.outputs[0])]
        if name == "LceDequantize" and (out.shape is None or len(out.shape) == 0):
            raise CheckpointError("damaged TFLite flatbuffer: LceDequantize's output has no shape")
        if name == "LceDequantize":
            options = {"channels": int(out.shape[-1])}
        elif name == "LceBconv2d":
            options = {**options, "bgnn_bitpacked_output": int(out.type == schema.TensorType.INT32)}
        if options:
            op.customOptions = list(flexbuffers.Dumps(options))
            op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        unique = schema.OperatorCodeT()
        unique.builtinCode = unique.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        unique.customCode = f"{name}#{counter}".encode()
        unique.version = 1
        counter += 1
        codes.append(unique)
        op.opcodeIndex = len(codes) - 1
        inputs = [int(i) for i in op.inputs]
        if any(i < 0 for i in inputs):
            if dummy_index is None:
                buffer = schema.BufferT()
                buffer.data = list(np.zeros(1, np.int32).tobytes())
                model.buffers.append(buffer)
                tensor = schema.TensorT()
                tensor.shape = [1]
                tensor.type = schema.TensorType.INT32
                tensor.buffer = len(model.buffers) - 1
                tensor.name = b"bgnn_absent_input"
                graph.tensors.append(tensor)
                dummy_index = len(graph.tensors) - 1
            op.inputs = [dummy_index if i < 0 else i for i in inputs]
    model.operatorCodes = codes
    return aligned_pack(model)
