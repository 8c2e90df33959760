"""Seed inputs for the runner's op fuzzer (targets/runner/fuzz/fuzz_ops.c) from the custom
ops of real converted models: each op's kind, its custom options as the model stores them,
and its input and output tensors (type, shape, constant or not), in the harness's layout.

    python -m tests.targets.fuzz_seeds MODEL.tflite [...] -o targets/runner/fuzz/corpus

Ops whose tensors do not fit the harness (a dim above 127, more than 4096 elements) are
left out. Each op gives two seeds: the model's output tensor and buffers filled with zeros,
and the output bgnn_op_output_shape derives and buffers filled with the start of its first
constant input's data.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
from pathlib import Path

from bgnn_deploy.converters.tflite_model import read_model

# op_impl.h's bgnn_op_kind, in its order
KINDS = [
    "LceQuantize",
    "LceDequantize",
    "LceBconv2d",
    "LceBMaxPool2d",
    "BgnnHammingKnn",
    "BgnnL2Knn",
    "BgnnEdgeConv",
    "BgnnEmbedPool",
]
# the flatbuffer schema's TensorType -> the runtime's TfLiteType code (op_impl.h)
TYPES = {0: 1, 2: 2}
MAX_ELEMENTS = 4096


def _tensor(graph, model, index: int) -> bytes | None:
    t = graph.tensors[index]
    shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    elements = 1
    for d in shape:
        elements *= d
    if any(not -128 <= d <= 127 for d in shape) or elements > MAX_ELEMENTS:
        return None
    buffer = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
    constant = buffer is not None and buffer.data is not None and len(buffer.data) > 0
    return bytes([TYPES.get(t.type, t.type), len(shape) + 1, int(constant)]) + bytes(
        d & 0xFF for d in shape
    )


def seeds(data: bytes) -> list[bytes]:
    """The seeds of every custom op of one model we implement."""
    model = read_model(data)
    out = []
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex].customCode
            name = code.decode().split("#")[0] if code else ""
            if name not in KINDS:
                continue
            inputs = [int(i) for i in op.inputs]
            if any(i < 0 for i in inputs) or len(inputs) > 8:
                continue
            parts = [_tensor(graph, model, i) for i in [*inputs, int(op.outputs[0])]]
            if any(p is None for p in parts):
                continue
            options = bytes(bytearray(op.customOptions)) if op.customOptions is not None else b""
            head = bytes([KINDS.index(name), len(inputs)])
            rest = struct.pack("<H", len(options)) + options + b"".join(parts)
            pool = b""
            for i in inputs:
                buffer = model.buffers[graph.tensors[i].buffer]
                if buffer.data is not None and len(buffer.data):
                    pool = bytes(bytearray(buffer.data))[:256]
                    break
            # flags 0: the output as the model gives it; 1: as bgnn_op_output_shape derives it
            out += [head + b"\0" + rest + bytes(4), head + b"\1" + rest + pool]
    return out


def pool_seeds() -> list[bytes]:
    """LceBMaxPool2d seeds (the converted DGCNNs have no binary max-pool): 2x2 stride 2
    VALID and 3x3 stride 1 SAME on int32 [1, 6, 6, 2]; the output as the op derives it."""
    from flatbuffers import flexbuffers

    out = []
    for f, s, padding, o in ((2, 2, 1, 3), (3, 1, 0, 6)):
        options = flexbuffers.Dumps(
            {"filter_height": f, "filter_width": f, "padding": padding}
            | {"stride_height": s, "stride_width": s}
        )
        x = bytes([2, 5, 0, 1, 6, 6, 2])
        y = bytes([2, 5, 0, 1, o, o, 2])
        head = bytes([KINDS.index("LceBMaxPool2d"), 1, 1]) + struct.pack("<H", len(options))
        out.append(head + options + x + y + bytes(range(64)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = set()
    found = [seed for path in args.models for seed in seeds(path.read_bytes())]
    for seed in [*found, *pool_seeds()]:
        name = hashlib.sha1(seed).hexdigest()[:16]
        if name not in written:
            (args.out / name).write_bytes(seed)
            written.add(name)
    print(f"{len(written)} seeds in {args.out}")


if __name__ == "__main__":
    main()
