"""A binary DGCNN written directly with ONNX's helper API (not by our exporter), as
other code might export one: channels-last, MatMul weights, BatchNorm folded into
Mul/Add, binarization as Sign in one layer and Where(x >= 0, 1, -1) in another."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _G:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, dtype=np.float32) -> str:
        name = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs, outputs: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=outs[0], **attrs))
        return outs if outputs > 1 else outs[0]

    def pm1(self, *shape) -> np.ndarray:
        return np.where(self.rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)

    def pos(self, n: int) -> np.ndarray:
        return self.rng.uniform(0.5, 1.5, n).astype(np.float32)

    def knn(self, x: str, n: int, k: int, *, l2: bool) -> str:
        dot = self.op("MatMul", [x, self.op("Transpose", [x], perm=[0, 2, 1])])
        if l2:
            sq = self.op(
                "ReduceSum", [self.op("Mul", [x, x]), self.const([-1], np.int64)], keepdims=1
            )
            d = self.op("Sub", [sq, self.op("Mul", [dot, self.const(2.0)])])
            d = self.op("Add", [d, self.op("Transpose", [sq], perm=[0, 2, 1])])
            score = self.op("Neg", [d])
        else:
            # the tie rule as a key: lower index wins among equal dot products
            score = self.op("Sub", [dot, self.const(np.arange(n) / n)])
        _, idx = self.op(
            "TopK", [score, self.const([k], np.int64)], outputs=2, axis=-1, largest=1, sorted=1
        )
        return idx

    def edges(self, x: str, idx: str, n: int, k: int, c: int, *, xor: bool) -> str:
        nbr = self.op("Gather", [self.op("Squeeze", [x, self.const([0], np.int64)]), idx], axis=0)
        centre = self.op("Unsqueeze", [x, self.const([2], np.int64)])
        centre = self.op("Expand", [centre, self.const([1, n, k, c], np.int64)])
        rel = (
            self.op("Neg", [self.op("Mul", [nbr, centre])])
            if xor
            else self.op("Sub", [nbr, centre])
        )
        return self.op("Concat", [rel, centre], axis=-1)

    def affine(self, x: str, c: int) -> str:
        x = self.op("Mul", [x, self.const(self.pos(c))])
        return self.op("Add", [x, self.const(self.rng.normal(0, 0.3, c))])

    def binary_dense(self, x: str, cin: int, cout: int) -> str:
        x = self.op("MatMul", [x, self.const(self.pm1(cin, cout))])
        x = self.op("Mul", [x, self.const(self.pos(cout) / np.sqrt(cin))])
        return self.op("PRelu", [x, self.const([0.25])])


def binary_dgcnn_onnx(
    n: int = 48,
    k: int = 5,
    c1: int = 16,
    c2: int = 24,
    emb: int = 32,
    hidden: int = 16,
    classes: int = 4,
    seed: int = 0,
    extra_node: str | None = None,
) -> onnx.ModelProto:
    g = _G(seed)
    # layer 1: L2 k-NN on xyz, real edge features, binary weights
    idx = g.knn("points", n, k, l2=True)
    e = g.edges("points", idx, n, k, 3, xor=False)
    h = g.binary_dense(e, 6, c1)
    x1 = g.op("ReduceMax", [h], axes=[2], keepdims=0)
    x1 = g.op("Sign", [g.affine(x1, c1)])
    # layer 2: Hamming k-NN on ±1 features, XOR edge features, binary conv
    idx = g.knn(x1, n, k, l2=False)
    e = g.edges(x1, idx, n, k, c1, xor=True)
    h = g.binary_dense(e, 2 * c1, c2)
    x2 = g.affine(g.op("ReduceMax", [h], axes=[2], keepdims=0), c2)
    cond = g.op("GreaterOrEqual", [x2, g.const(0.0)])
    x2 = g.op("Where", [cond, g.const(1.0), g.const(-1.0)])
    if extra_node:
        x2 = g.op(extra_node, [x2])
    # embedding, pooling, head
    z = g.binary_dense(g.op("Concat", [x1, x2], axis=-1), c1 + c2, emb)
    z = g.op(
        "Concat",
        [
            g.op("ReduceMax", [z], axes=[1], keepdims=0),
            g.op("ReduceMean", [z], axes=[1], keepdims=0),
        ],
        axis=-1,
    )
    z = g.binary_dense(g.op("Sign", [g.affine(z, 2 * emb)]), 2 * emb, hidden)
    w = g.rng.normal(0, 0.3, (classes, hidden)).astype(np.float32)
    logits = g.op(
        "Gemm", [g.affine(z, hidden), g.const(w), g.const(g.rng.normal(0, 0.1, classes))], transB=1
    )
    graph = helper.make_graph(
        g.nodes,
        "hand_built_bgnn",
        [helper.make_tensor_value_info("points", TensorProto.FLOAT, [1, n, 3])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, classes])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
