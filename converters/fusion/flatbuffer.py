"""Write the fused BinDGCNN: our bit-domain ops up to the pooled features, LCE's head after.

The portable LCE flatbuffer is the starting point. Everything before the pooled vector
(concat of global max and mean of the embedding) is replaced by one BgnnEdgeConv on the
points that finds its own L2 neighbours (option ``k``), then per layer BgnnHammingKnn +
BgnnEdgeConv on bit-packed features, and one BgnnEmbedPool writing the same pooled
tensor; the head (BatchNorm, LceQuantize, LceBconv2d, ...)
stays exactly as LCE converted it. Tensors, buffers and op codes the removed part used
are dropped. With ``debug`` the k-NN indices and node features stay model outputs under
their names (``knn<i>``, ``nodes<i>`` as ±1 floats through LceDequantize), for parity;
the first layer's k-NN is then a BgnnL2Knn of its own.
"""

from __future__ import annotations

import numpy as np
from bgnn_deploy.converters.fusion.plan import FusedPlan
from bgnn_deploy.converters.tflite_model import builtin_name, read_model, tflite_schema

from bgnn_deploy.errors import ConversionError

__all__ = ["FUSED_OPS", "FlatbufferGraph", "fuse_model", "head_model"]

FUSED_OPS = ("BgnnL2Knn", "BgnnHammingKnn", "BgnnEdgeConv", "BgnnEmbedPool")


class FlatbufferGraph:
    """Mutable view of subgraph 0 with helpers to add tensors, constants and custom ops, and
    to write the result with everything unused dropped (also for single-op test graphs)."""

    def __init__(self, data: bytes):
        self.schema = tflite_schema()
        self.model = read_model(data)
        self.graph = self.model.subgraphs[0]

    def name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        if code.customCode:
            return code.customCode.decode()
        return builtin_name(max(code.builtinCode, code.deprecatedBuiltinCode))

    def producers(self) -> dict[int, int]:
        return {int(t): i for i, op in enumerate(self.graph.operators) for t in op.outputs}

    def is_constant(self, tensor: int) -> bool:
        data = self.model.buffers[self.graph.tensors[tensor].buffer].data
        return data is not None and len(data) > 0

    def add_tensor(self, name: str, shape, dtype, data: np.ndarray | None = None) -> int:
        s = self.schema
        buffer = s.BufferT()
        if data is not None:
            buffer.data = list(np.ascontiguousarray(data).tobytes())
        self.model.buffers.append(buffer)
        tensor = s.TensorT()
        tensor.shape = [int(d) for d in shape]
        tensor.type = {np.float32: s.TensorType.FLOAT32, np.int32: s.TensorType.INT32}[dtype]
        tensor.buffer = len(self.model.buffers) - 1
        tensor.name = name.encode()
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def constant(self, name: str, array: np.ndarray) -> int:
        dtype = np.float32 if array.dtype == np.float32 else np.int32
        return self.add_tensor(name, array.shape, dtype, array.astype(dtype))

    def custom_op(self, code_name: str, inputs, outputs, options: dict):
        from flatbuffers import flexbuffers

        s = self.schema
        index = next(
            (
                i
                for i, c in enumerate(self.model.operatorCodes)
                if c.customCode and c.customCode.decode() == code_name
            ),
            None,
        )
        if index is None:
            code = s.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
            code.customCode = code_name.encode()
            code.version = 1
            self.model.operatorCodes.append(code)
            index = len(self.model.operatorCodes) - 1
        op = s.OperatorT()
        op.opcodeIndex = index
        op.inputs = [int(i) for i in inputs]
        op.outputs = [int(o) for o in outputs]
        op.customOptions = list(flexbuffers.Dumps(options))
        op.customOptionsFormat = s.CustomOptionsFormat.FLEXBUFFERS
        return op

    def signature_outputs(self) -> dict[str, int]:
        sigs = self.model.signatureDefs or []
        return {o.name.decode(): int(o.tensorIndex) for o in sigs[0].outputs} if sigs else {}

    def pooled(self) -> tuple[int, int]:
        """(op index, tensor) of the CONCATENATION of REDUCE_MAX and MEAN of one tensor."""
        ops, producer = self.graph.operators, self.producers()
        found = []
        for i, op in enumerate(ops):
            if self.name(op) != "CONCATENATION" or len(op.inputs) != 2:
                continue
            a, b = (producer.get(int(t)) for t in op.inputs)
            if a is None or b is None:
                continue
            if (self.name(ops[a]), self.name(ops[b])) == ("REDUCE_MAX", "MEAN") and int(
                ops[a].inputs[0]
            ) == int(ops[b].inputs[0]):
                found.append((i, int(op.outputs[0])))
        if len(found) != 1:
            raise ConversionError(
                f"the LCE graph has {len(found)} global max+mean poolings (expected one): "
                "it is not a DGCNN this fusion knows"
            )
        return found[0]

    def head_ops(self, pooled: int) -> list:
        """The ops that depend on the pooled tensor, in order; they must need nothing else
        computed upstream."""
        reach, kept = {pooled}, []
        for op in self.graph.operators:
            if any(int(t) in reach for t in op.inputs):
                kept.append(op)
                reach.update(int(t) for t in op.outputs)
        for op in kept:
            for t in op.inputs:
                t = int(t)
                if t >= 0 and t not in reach and not self.is_constant(t):
                    raise ConversionError(f"the head reads tensor {t} computed before the pooling")
        return kept

    def finish(
        self, operators: list, inputs: list[int], outputs: dict[str, int], input_names: list[str]
    ) -> bytes:
        """Set ops and I/O, drop everything unused, renumber, serialize (64-byte aligned)."""
        from bgnn_deploy.converters.litert_prepare import aligned_pack

        g, m, s = self.graph, self.model, self.schema
        g.operators = operators
        g.inputs = list(inputs)
        g.outputs = list(outputs.values())
        used = sorted(
            {*g.inputs, *g.outputs}
            | {int(t) for op in operators for t in (*op.inputs, *op.outputs) if int(t) >= 0}
        )
        remap = {old: new for new, old in enumerate(used)}
        g.tensors = [g.tensors[t] for t in used]
        for op in operators:
            op.inputs = [remap[int(t)] if int(t) >= 0 else -1 for t in op.inputs]
            op.outputs = [remap[int(t)] for t in op.outputs]
        g.inputs = [remap[t] for t in g.inputs]
        g.outputs = [remap[t] for t in g.outputs]
        keep_buffers = sorted(
            {0, *(t.buffer for t in g.tensors), *(md.buffer for md in m.metadata or [])}
        )
        bmap = {old: new for new, old in enumerate(keep_buffers)}
        m.buffers = [m.buffers[b] for b in keep_buffers]
        for t in g.tensors:
            t.buffer = bmap[t.buffer]
        for md in m.metadata or []:
            md.buffer = bmap[md.buffer]
        codes = sorted({op.opcodeIndex for op in operators})
        cmap = {old: new for new, old in enumerate(codes)}
        m.operatorCodes = [m.operatorCodes[c] for c in codes]
        for op in operators:
            op.opcodeIndex = cmap[op.opcodeIndex]
        if m.signatureDefs:
            sig = m.signatureDefs[0]
            sig.inputs = [
                _tensor_map(s, n, remap[t]) for n, t in zip(input_names, inputs, strict=True)
            ]
            sig.outputs = [_tensor_map(s, n, remap[t]) for n, t in outputs.items()]
            m.signatureDefs = [sig]
        return aligned_pack(m)


def _tensor_map(schema, name: str, index: int):
    entry = schema.TensorMapT()
    entry.name = name.encode()
    entry.tensorIndex = index
    return entry


def fuse_model(portable: bytes, plan: FusedPlan, *, debug: bool = False) -> bytes:
    """The fused flatbuffer from the portable (builtin k-NN) one; ``debug`` keeps the
    ``knn<i>`` / ``nodes<i>`` outputs the portable debug graph has."""
    fb = FlatbufferGraph(portable)
    _, pooled = fb.pooled()
    head = fb.head_ops(pooled)
    outputs = fb.signature_outputs()
    if "logits" not in outputs:
        raise ConversionError("the LCE graph has no 'logits' output")
    points = int(fb.graph.inputs[0])
    n = plan.num_points
    front = []
    x, features = points, []
    for i, layer in enumerate(plan.layers):
        knn_name = f"knn{i}"
        options = {"channels_in": layer.channels_in, "channels_out": layer.channels_out}
        # the first layer (L2 k-NN of the points) is one op that finds its own neighbours;
        # the debug graph keeps the k-NN an op of its own, for its knn0 output
        own_knn = layer.knn == "l2" and i == 0 and not debug
        neighbours = []
        if own_knn:
            options.update(k=layer.k, tie_rule="lower_index")
        else:
            idx = (
                outputs[knn_name]
                if debug
                else fb.add_tensor(f"bgnn/{knn_name}", (1, n, layer.k), np.int32)
            )
            knn_op = "BgnnL2Knn" if layer.knn == "l2" else "BgnnHammingKnn"
            front.append(
                fb.custom_op(knn_op, [x], [idx], {"k": layer.k, "tie_rule": "lower_index"})
            )
            neighbours = [idx]
        words = -(-layer.channels_out // 32)
        out = fb.add_tensor(f"bgnn/nodes{i}_packed", (1, n, words), np.int32)
        inputs = [
            x,
            *neighbours,
            fb.constant(f"bgnn/edgeconv{i}/weights", layer.weights),
            fb.constant(f"bgnn/edgeconv{i}/modes", layer.rules.mode.astype(np.int32)),
            fb.constant(f"bgnn/edgeconv{i}/bounds", layer.rules.bounds),
        ]
        front.append(fb.custom_op("BgnnEdgeConv", inputs, [out], options))
        if debug:
            front.append(fb.custom_op("LceDequantize", [out], [outputs[f"nodes{i}"]], {}))
        x = out
        features.append(out)
    embed = plan.embed
    options = {"channels_out": embed.channels_out, "inputs": len(features)}
    options.update({f"channels_in_{i}": c for i, c in enumerate(embed.channels_in)})
    front.append(
        fb.custom_op(
            "BgnnEmbedPool",
            [
                *features,
                fb.constant("bgnn/embed/filters", embed.filters),
                fb.constant("bgnn/embed/params", embed.params),
            ],
            [pooled],
            options,
        )
    )
    kept = {name: t for name, t in outputs.items() if debug or name == "logits"}
    return fb.finish(front + head, [points], kept, ["points"])


def head_model(portable: bytes) -> bytes:
    """Only the head of the portable flatbuffer: input ``pooled`` [1, 2E], output logits.
    The host's LCE interpreter runs it after the NumPy reference of the fused ops."""
    fb = FlatbufferGraph(portable)
    _, pooled = fb.pooled()
    head = fb.head_ops(pooled)
    outputs = fb.signature_outputs()
    return fb.finish(head, [pooled], {"logits": outputs["logits"]}, ["pooled"])
