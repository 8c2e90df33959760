"""Read any .tflite flatbuffer: ops by type, tensors, custom ops with decoded options.

Uses TensorFlow's generated schema (object API) and the flatbuffers package's
flexbuffers reader; nothing here depends on how the model was produced.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bgnn_deploy.errors import CheckpointError

__all__ = ["TfliteSummary", "builtin_name", "read_model", "summarize", "tflite_schema"]


def tflite_schema():
    """TFLite's generated flatbuffer schema (TensorFlow's), imported without its native
    start-up chatter on the user's terminal."""
    from bgnn_deploy.converters.quiet import native_stderr_silenced

    with native_stderr_silenced():  # importing it starts TensorFlow
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def read_model(data: bytes):
    """The flatbuffer as TFLite's object-API ``ModelT``; clear errors for non-models."""
    schema = tflite_schema()
    if len(data) < 8 or bytes(data[4:8]) != b"TFL3":
        raise CheckpointError("not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as e:  # a cut or corrupt buffer fails anywhere inside the reader
        raise CheckpointError(
            f"damaged or truncated TFLite flatbuffer: {type(e).__name__}"
        ) from None


_BUILTIN_NAMES: dict[int, str] | None = None


def builtin_name(code: int) -> str:
    global _BUILTIN_NAMES
    if _BUILTIN_NAMES is None:
        ops = tflite_schema().BuiltinOperator
        _BUILTIN_NAMES = {v: k for k, v in vars(ops).items() if not k.startswith("_")}
    return _BUILTIN_NAMES.get(code, f"BUILTIN_{code}")


def _op_name(opcode) -> str:
    if opcode.customCode:
        return opcode.customCode.decode()
    return builtin_name(max(opcode.builtinCode, opcode.deprecatedBuiltinCode))


# Custom options that hold TFLite schema enums: LCE writes its ops' padding and fused
# activation as tflite::Padding and tflite::ActivationFunctionType values.
_ENUM_OPTIONS = {"padding": "Padding", "fused_activation_function": "ActivationFunctionType"}


def _enum_names(options: object) -> object:
    """Decoded custom options with schema enums by name (``"padding": "VALID"``);
    a value the schema does not name stays a number."""
    if not isinstance(options, dict):
        return options
    schema = tflite_schema()
    named = dict(options)
    for key, enum in _ENUM_OPTIONS.items():
        value = named.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            names = {v: k for k, v in vars(getattr(schema, enum)).items() if not k.startswith("_")}
            named[key] = names.get(value, value)
    return named


def _decode_options(raw) -> object:
    if raw is None or len(raw) == 0:
        return {}
    from flatbuffers import flexbuffers

    try:
        return flexbuffers.Loads(bytes(bytearray(raw)))
    except Exception:
        return {"undecoded_bytes": len(raw)}


@dataclass
class TfliteSummary:
    """What :func:`summarize` found; custom ops' options are decoded, with the schema's
    enums (padding, fused activation) by name."""

    size_bytes: int
    ops: dict[str, int]
    custom_ops: list[dict]
    tensors: list[dict] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    macs: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "size_bytes": self.size_bytes,
            "ops": self.ops,
            "custom_ops": self.custom_ops,
            "macs": self.macs,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "tensors": self.tensors,
        }


_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 9: "int8"}


def _tensor_info(graph, index: int) -> dict:
    t = graph.tensors[index]
    return {
        "index": index,
        "name": t.name.decode() if t.name else "",
        "shape": [int(d) for d in (t.shape if t.shape is not None else [])],
        "type": _TYPE_NAMES.get(t.type, str(t.type)),
    }


def _estimate_macs(model, graph, name: str, op) -> tuple[int, bool]:
    """MACs of conv / matmul-like ops from tensor shapes (others count 0), and whether binary."""

    def shape(i):
        return [int(d) for d in graph.tensors[i].shape] if i >= 0 else []

    out = shape(op.outputs[0]) if op.outputs is not None and len(op.outputs) else []
    if name == "LceBconv2d":
        opts = _decode_options(op.customOptions)
        filt = shape(op.inputs[1])
        cin = int(opts.get("channels_in", filt[-1] * 32)) if isinstance(opts, dict) else 0
        positions = int(np.prod(out[:-1])) if out else 0
        return positions * filt[0] * filt[1] * filt[2] * cin, True
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        filt = shape(op.inputs[1])
        positions = int(np.prod(out[:-1])) if out else 0
        per = int(np.prod(filt[1:])) if name == "CONV_2D" else int(np.prod(filt[1:3]))
        return positions * per * (out[-1] if name == "DEPTHWISE_CONV_2D" else filt[0]), False
    if name == "FULLY_CONNECTED":
        filt = shape(op.inputs[1])
        return int(np.prod(out[:-1]) if out else 0) * filt[0] * filt[1], False
    if name == "BATCH_MATMUL":
        a = shape(op.inputs[0])
        return int(np.prod(out)) * (a[-1] if a else 0), False
    if name in ("BgnnHammingKnn", "BgnnL2Knn"):
        x = shape(op.inputs[0])
        packed = graph.tensors[op.inputs[0]].type == 2  # int32: 32 channels per word
        return (
            x[-2] * x[-2] * x[-1] * (32 if packed else 1) if len(x) >= 2 else 0
        ), name != "BgnnL2Knn"
    if name in ("BgnnEdgeConv", "BgnnEmbedPool"):
        # the network's MACs, as the portable form counts them (the kernels do fewer)
        opts = _decode_options(op.customOptions)
        opts = opts if isinstance(opts, dict) else {}
        if name == "BgnnEdgeConv":
            idx = shape(op.inputs[1])
            binary = graph.tensors[op.inputs[0]].type == 2
            edges = int(np.prod(idx[1:])) if len(idx) == 3 else 0
            return edges * 2 * int(opts.get("channels_in", 0)) * int(
                opts.get("channels_out", 0)
            ), binary
        n = shape(op.inputs[0])[1] if len(shape(op.inputs[0])) == 3 else 0
        cin = sum(int(opts.get(f"channels_in_{i}", 0)) for i in range(int(opts.get("inputs", 0))))
        return n * cin * int(opts.get("channels_out", 0)), True
    return 0, False


def summarize(data: bytes, *, with_tensors: bool = False) -> TfliteSummary:
    """Ops by type, custom ops (options decoded), I/O, estimated binary vs float MACs."""
    model = read_model(data)
    ops: Counter[str] = Counter()
    custom: list[dict] = []
    macs = {"binary": 0, "float": 0}
    for g, graph in enumerate(model.subgraphs):
        for i, op in enumerate(graph.operators or []):
            name = _op_name(model.operatorCodes[op.opcodeIndex])
            ops[name] += 1
            if model.operatorCodes[op.opcodeIndex].customCode:
                custom.append(
                    {
                        "op": name,
                        "subgraph": g,
                        "index": i,
                        "options": _enum_names(_decode_options(op.customOptions)),
                    }
                )
            count, is_binary = _estimate_macs(model, graph, name, op)
            macs["binary" if is_binary else "float"] += int(count)
    graph = model.subgraphs[0]
    summary = TfliteSummary(
        size_bytes=len(data),
        ops=dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        custom_ops=custom,
        inputs=[_tensor_info(graph, i) for i in graph.inputs],
        outputs=[_tensor_info(graph, i) for i in graph.outputs],
        macs=macs,
    )
    if with_tensors:
        summary.tensors = [_tensor_info(graph, i) for i in range(len(graph.tensors))]
    return summary


def summarize_file(path: str | Path, *, with_tensors: bool = False) -> TfliteSummary:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    return summarize(path.read_bytes(), with_tensors=with_tensors)
