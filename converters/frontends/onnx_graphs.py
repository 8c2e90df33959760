"""Frontend for ONNX files of DGCNN-family GNNs (float or binary) exported by other code.

Graphs with ``Conv`` products (``torch.onnx.export`` of PyTorch DGCNN code, either
exporter, channels first or last) are read by :mod:`.onnx_exports`; the others, a
hand-written channels-last subset, by the walk below. Either way the reference is ONNX
Runtime on the user's file (:class:`OnnxTraceRunner`).

The hand-written subset is read by a symbolic walk in topological order: every tensor gets a role
(points, node features of layer i, k-NN indices, edge features, embedding, pooled
vector, head), and each node must make sense for the role of its inputs. What is
recognised (channels-last tensors, batch 1; see docs/onnx-frontend.md):

- k-NN: ``TopK`` over scores built from ``MatMul(X, Transpose(X))`` and, for L2,
  ``ReduceSum(X*X)`` terms; Hamming when X is ±1 and no squared norms appear.
- edge features: ``Gather`` of neighbours, the centre by ``Unsqueeze`` (+ ``Expand`` /
  ``Tile``), ``Sub`` (x_j - x_i) or ``Neg(Mul)`` (XOR on ±1), ``Concat``.
- binarization: ``Sign``, or ``Where(x >= 0, 1, -1)``; weights: ``MatMul`` / ``Gemm``
  with constant weights, binary when every weight is ±1.
- per-channel affine ``Mul`` / ``Add`` with constants (BatchNorm folded), ``PRelu``,
  ``LeakyRelu``, ``ReduceMax`` over neighbours, ``ReduceMax`` + ``ReduceMean`` pooling.

Anything else raises :class:`UnsupportedOpError` naming the node and its op type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.frontends.base import Frontend, Source

from bgnn_deploy.errors import CheckpointError, ConfigError, ConversionError, UnsupportedOpError

__all__ = ["FRONTEND", "OnnxGraph", "OnnxTraceRunner", "from_onnx", "load_source"]

_PASS_THROUGH = {"Identity", "Dropout", "Cast"}


@dataclass
class _Layer:
    k: int = 0
    metric: str = ""
    edge_op: str = ""
    edge_ops: list = field(default_factory=list)
    node_ops: list = field(default_factory=list)
    binary_inputs: bool = False  # the edge features are ±1 (XOR of binary node features)


@dataclass
class _Role:
    # points | nodes | xt (X^T) | dot (X X^T) | sq_elem (X*X) | sq (|X|^2) | score | knn
    # | nbr | centre | prod | rel | edges | concat | embed | pooled_max | pooled_mean
    # | head | sign_cond (x >= 0)
    kind: str
    layer: int = -1  # which EdgeConv (nodes/edges/knn...) ; -1 = input points
    has_sq: bool = False
    edge_op: str = ""
    k: int = 0
    origin: _Role | None = None  # for a binarization condition: the tensor it tests


@dataclass
class OnnxGraph:
    """The description plus the ONNX tensor names of each layer's k-NN and node features."""

    model: ir.GraphModel
    knn_tensors: list[str]
    node_tensors: list[str]
    input_name: str
    output_name: str


def _load(path: Path):
    import onnx
    from onnx import numpy_helper

    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:  # protobuf decode errors, checker errors
        raise CheckpointError(f"{path} is not a valid ONNX model: {str(e).strip()[:200]}") from None
    consts = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    return proto, consts


class _Walker:
    def __init__(self, proto, consts):
        self.proto, self.consts = proto, dict(consts)
        self.roles: dict[str, _Role] = {}
        self.layers: list[_Layer] = []
        self.embed: list = []
        self.head: list = []
        self.knn_tensors: list[str] = []
        self.node_tensors: dict[int, str] = {}  # layer -> its final node-feature tensor
        self.pending_knn: tuple[int, str, int] | None = None
        self.embed_binary = False

    # -- helpers -------------------------------------------------------------------------
    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def fail(self, node, why: str):
        raise UnsupportedOpError(
            f"ONNX node '{node.name or node.output[0]}' ({node.op_type}): {why}"
        )

    def ops_for(self, role: _Role) -> list:
        if role.kind == "edges":
            return self.layers[role.layer].edge_ops
        if role.kind == "nodes":
            return self.layers[role.layer].node_ops
        if role.kind in ("embed", "concat"):
            return self.embed
        if role.kind == "head":
            return self.head
        raise KeyError(role.kind)

    @staticmethod
    def attr(node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                from onnx import helper

                return helper.get_attribute_value(a)
        return default

    # -- the walk --------------------------------------------------------------------------
    def run(self) -> tuple[str, str]:
        graph = self.proto.graph
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ConversionError(f"expected one input (the point cloud), found {len(inputs)}")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) != 3 or dims[0] not in (0, 1) or dims[2] < 1 or dims[1] < 1:
            raise ConversionError(f"input must be [1, N, C] (channels last), got {dims}")
        self.num_points, self.in_channels = dims[1], dims[2]
        self.roles[inputs[0].name] = _Role("points")
        for node in graph.node:
            self.visit(node)
        out = graph.output[0].name
        if self.roles.get(out, _Role("?")).kind != "head":
            raise ConversionError("the graph's output is not a classifier head after pooling")
        return inputs[0].name, out

    def set(self, node, role: _Role, index: int = 0):
        self.roles[node.output[index]] = role

    def visit(self, node):  # one dispatch over the recognised ops
        op = node.op_type
        if op == "Constant":
            from onnx import numpy_helper

            self.consts[node.output[0]] = numpy_helper.to_array(self.attr(node, "value"))
            return
        ins = [self.roles.get(n) for n in node.input]
        known = [r for r in ins if r is not None]
        if not known:
            # constant folding of small shape arithmetic is not attempted
            if all(n in self.consts or n == "" for n in node.input):
                self.fail(node, "constant subgraphs are not folded; fold them before export")
            self.fail(node, "no input comes from the point cloud")
        a = ins[0]
        if a is None:  # e.g. MatMul(A, x): a fixed adjacency times the features (GCN, SAGE)
            self.fail(
                node,
                "a constant first operand applied to the point features (a fixed graph's "
                "aggregation, as in GCN or GraphSAGE); the graphs read here build their "
                "neighbours with a k-NN (TopK) per layer",
            )
        if op in _PASS_THROUGH:
            self.set(node, a)
            return
        if op == "Transpose" and a.kind in ("points", "nodes"):
            self.set(node, _Role("xt", a.layer))
            return
        other = ins[1] if len(ins) > 1 else None
        if (
            op == "MatMul"
            and a.kind in ("points", "nodes")
            and other is not None
            and other.kind == "xt"
            and other.layer == a.layer
        ):
            self.set(node, _Role("dot", a.layer))
            return
        if op == "ReduceSum" and a.kind == "sq_elem":
            self.set(node, _Role("sq", a.layer))
            return
        if (
            op == "Mul"
            and a.kind in ("points", "nodes")
            and ins[1] is not None
            and (
                ins[1].kind == a.kind and ins[1].layer == a.layer and node.input[0] == node.input[1]
            )
        ):
            self.set(node, _Role("sq_elem", a.layer))
            return
        if a.kind in ("dot", "sq", "score") or (
            len(ins) > 1 and ins[1] is not None and ins[1].kind in ("dot", "sq", "score")
        ):
            if op in ("Add", "Sub", "Mul", "Neg", "Unsqueeze", "Reshape", "Div", "Transpose"):
                srcs = [r for r in known if r.kind in ("dot", "sq", "score")]
                has_sq = any(r.kind == "sq" or r.has_sq for r in srcs)
                self.set(node, _Role("score", srcs[0].layer, has_sq=has_sq))
                return
            if op == "TopK":
                k = self.const(node.input[1])
                if k is None:
                    self.fail(node, "k must be a constant")
                k = int(np.asarray(k).reshape(-1)[0])
                metric = "l2" if a.has_sq else "hamming"
                if metric == "hamming" and not self.binary_nodes(a.layer):
                    self.fail(node, "dot-product k-NN on real-valued features is not supported")
                self.set(node, _Role("knn", a.layer, k=k), index=1)
                self.pending_knn = (a.layer, metric, k)
                self.knn_tensors.append(node.output[1])
                return
        if op in ("Gather", "GatherND") and a.kind in ("points", "nodes"):
            idx = ins[1]
            if idx is None or idx.kind != "knn":
                self.fail(node, "only neighbour gathers by k-NN indices are supported")
            self.set(node, _Role("nbr", a.layer, k=idx.k))
            return
        if op in ("Squeeze",) and a.kind in ("points", "nodes", "knn"):
            self.set(node, a)
            return
        if op == "Unsqueeze" and a.kind in ("points", "nodes", "nbr"):
            self.set(node, a if a.kind == "nbr" else _Role("centre", a.layer))
            return
        if op in ("Expand", "Tile") and a.kind in ("centre", "nbr"):
            self.set(node, a)
            return
        if op == "Sub" and {a.kind, ins[1].kind if ins[1] else ""} == {"nbr", "centre"}:
            if a.kind != "nbr":
                self.fail(node, "edge features must be x_j - x_i")
            self.set(node, _Role("rel", a.layer, edge_op="sub"))
            return
        if op == "Mul" and ins[1] is not None and {a.kind, ins[1].kind} == {"nbr", "centre"}:
            self.set(node, _Role("prod", a.layer))
            return
        if op == "Neg" and a.kind == "prod":
            self.set(node, _Role("rel", a.layer, edge_op="xor"))
            return
        if op == "Concat":
            self.concat(node, ins)
            return
        if op == "ReduceMax" and a.kind == "edges":
            self.set(node, _Role("nodes", a.layer))
            self.node_tensors[a.layer] = node.output[0]
            return
        if op == "Where" and a.kind == "sign_cond":
            pos, neg = self.const(node.input[1]), self.const(node.input[2])
            if pos is None or neg is None or not (np.all(pos == 1) and np.all(neg == -1)):
                self.fail(node, "only Where(x >= 0, 1, -1) (binarization) is supported")
            self.ops_for(a.origin).append(ir.Sign())
            self.after_op(node, a.origin)
            return
        if op in ("ReduceMax", "ReduceMean") and a.kind == "embed":
            self.set(node, _Role("pooled_max" if op == "ReduceMax" else "pooled_mean"))
            return
        if op in ("Flatten", "Squeeze", "Reshape") and a.kind in (
            "pooled_max",
            "pooled_mean",
            "head",
        ):
            self.set(node, a)
            return
        if a.kind in ("edges", "nodes", "embed", "concat", "head"):
            self.layer_op(node, a, ins)
            return
        self.fail(node, f"not expected on {a.kind} tensors")

    def binary_nodes(self, layer: int) -> bool:
        if layer < 0:
            return False
        ops = self.layers[layer].node_ops
        return bool(ops) and isinstance(ops[-1], ir.Sign)

    def concat(self, node, ins):
        kinds = [r.kind if r else "const" for r in ins]
        if kinds == ["rel", "centre"] and self.pending_knn is not None:
            layer, metric, k = self.pending_knn
            edge_op = ins[0].edge_op
            binary = edge_op == "xor" and self.binary_nodes(layer)
            if edge_op == "xor" and not binary:
                self.fail(node, "XOR edge features need ±1 node features")
            self.layers.append(_Layer(k=k, metric=metric, edge_op=edge_op, binary_inputs=binary))
            self.pending_knn = None
            self.set(node, _Role("edges", len(self.layers) - 1))
            return
        if kinds and all(k == "nodes" for k in kinds):
            order = [r.layer for r in ins]
            if order != list(range(len(self.layers))):
                self.fail(node, "the embedding must concatenate every layer's nodes in order")
            self.embed_binary = all(self.binary_nodes(i) for i in order)
            self.set(node, _Role("concat"))
            return
        if sorted(kinds) == ["pooled_max", "pooled_mean"]:
            if kinds != ["pooled_max", "pooled_mean"]:
                self.fail(node, "pooling must concatenate max then mean")
            self.set(node, _Role("head"))
            return
        self.fail(node, f"unsupported concatenation of {kinds}")

    def layer_op(self, node, a: _Role, ins):
        op = node.op_type
        ops = self.ops_for(a)
        if op == "Sign":
            ops.append(ir.Sign())
        elif op in ("MatMul", "Gemm"):
            w = self.const(node.input[1])
            if w is None:
                self.fail(node, "weights must be constant initializers")
            w = np.asarray(w, dtype=np.float32)
            if op == "Gemm":
                if self.attr(node, "transB", 0):
                    w = w.T
                alpha = self.attr(node, "alpha", 1.0)
                w = w * np.float32(alpha)
            bias = None
            if op == "Gemm" and len(node.input) > 2 and node.input[2]:
                beta = np.float32(self.attr(node, "beta", 1.0))
                bias = np.asarray(self.const(node.input[2]), np.float32) * beta
            binary_w = bool(np.all(np.abs(w) == 1.0))
            binary_in = bool(ops) and isinstance(ops[-1], ir.Sign)
            if binary_in:
                ops.pop()
            first = not any(isinstance(o, ir.Dense) for o in ops)
            if first and a.kind == "edges" and self.layers[a.layer].binary_inputs:
                binary_in = True
            if first and a.kind == "concat" and self.embed_binary:
                binary_in = True
            ops.append(
                ir.Dense(
                    np.ascontiguousarray(w.T),
                    binary_weights=binary_w,
                    binary_inputs=binary_in and binary_w,
                    bias=bias,
                )
            )
        elif op in ("Mul", "Add"):
            c = self.const(node.input[1]) if ins[1] is None else None
            if c is None:
                self.fail(node, "only per-channel constants are supported here")
            c = np.asarray(c, np.float32).reshape(-1)
            if op == "Mul":
                ops.append(ir.Scale(c))
            else:
                ops.append(ir.BatchNorm(np.ones_like(c), c, np.zeros_like(c), np.ones_like(c), 0.0))
        elif op == "PRelu":
            slope = self.const(node.input[1])
            if slope is None:
                self.fail(node, "the slope must be constant")
            ops.append(ir.PReLU(np.asarray(slope, np.float32).reshape(-1)))
        elif op == "LeakyRelu":
            ops.append(ir.LeakyReLU(float(self.attr(node, "alpha", 0.01))))
        elif op == "GreaterOrEqual":
            zero = self.const(node.input[1])
            if zero is None or np.any(zero != 0):
                self.fail(node, "only comparisons with 0 (binarization) are supported")
            self.set(node, _Role("sign_cond", a.layer, origin=a))
            return
        else:
            self.fail(node, f"unsupported op on {a.kind} tensors")
        self.after_op(node, a)

    def after_op(self, node, a: _Role) -> None:
        """The output of a per-layer op keeps its input's role (a concat becomes the embedding)."""
        out = _Role("embed" if a.kind == "concat" else a.kind, a.layer)
        self.set(node, out)
        if out.kind == "nodes":
            self.node_tensors[a.layer] = node.output[0]


def from_onnx(path: str | Path):
    """Read an ONNX file into a model description: ``torch.onnx.export`` graphs (those with
    ``Conv`` products) by :mod:`.onnx_exports`, others by the walker of the module docstring."""
    path = Path(path)
    proto, consts = _load(path)
    from bgnn_deploy.converters.frontends import onnx_exports

    if onnx_exports.claims(proto):
        return onnx_exports.read_export(path, proto)
    walker = _Walker(proto, consts)
    input_name, output_name = walker.run()
    if not walker.layers:
        raise ConversionError(f"{path}: no k-NN (TopK) found: not a dynamic-graph GNN")
    layers = tuple(
        ir.EdgeConv(
            layer.k, layer.metric, layer.edge_op, tuple(layer.edge_ops), tuple(layer.node_ops)
        )
        for layer in walker.layers
    )
    model = ir.GraphModel(
        name=path.stem,
        num_points=walker.num_points,
        in_channels=walker.in_channels,
        edge_convs=layers,
        embed=tuple(walker.embed),
        head=tuple(walker.head),
        meta={"source": "onnx", "path": str(path)},
    )
    nodes = [walker.node_tensors[i] for i in range(len(layers))]
    return OnnxGraph(model, walker.knn_tensors, nodes, input_name, output_name)


class OnnxTraceRunner:
    """ONNX Runtime on the source file, with each layer's k-NN indices and node features
    added as graph outputs: the reference for parity checks of an ONNX source."""

    def __init__(self, path: str | Path, graph):
        import onnx
        import onnxruntime as ort

        proto = onnx.load(str(path))
        self.channels_first = getattr(graph, "channels_first", False)
        self.node_axes = getattr(graph, "node_axes", None)
        self.presign = [p for p in getattr(graph, "presign_tensors", []) if p]
        extra = [*graph.knn_tensors, *graph.node_tensors, *self.presign]
        existing = {o.name for o in proto.graph.output}
        for name in extra:
            if name not in existing:
                proto.graph.output.append(onnx.ValueInfoProto(name=name))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.graph = graph
        self.names = [graph.output_name, *extra]

    def trace(self, cloud: np.ndarray) -> dict[str, np.ndarray]:
        """Our clouds are [1, N, 3]; a channels-first file is fed [1, 3, N], and its node
        features come back as [1, N, C]."""
        x = cloud.astype(np.float32)
        if self.channels_first:
            x = np.ascontiguousarray(x.transpose(0, 2, 1))
        values = dict(
            zip(self.names, self.session.run(self.names, {self.graph.input_name: x}), strict=True)
        )
        out = {"logits": values[self.graph.output_name]}
        presign = iter(getattr(self.graph, "presign_tensors", []))
        for i, (knn, nodes) in enumerate(
            zip(self.graph.knn_tensors, self.graph.node_tensors, strict=True)
        ):
            axes = self.node_axes[i] if self.node_axes else None
            out[f"knn{i}"] = values[knn].astype(np.int64)
            out[f"nodes{i}"] = _points_last(values[nodes], axes)
            before_sign = next(presign, None)
            if before_sign:
                out[f"presign{i}"] = _points_last(values[before_sign], axes)
            out[f"input{i}"] = cloud if i == 0 else out[f"nodes{i - 1}"]
        return out


def _points_last(value: np.ndarray, axes: tuple[str, ...] | None) -> np.ndarray:
    """Node features as [1, N, C] from a tensor whose axes are labelled (n, c, 1 = unit)."""
    if axes is None:
        return value
    core = [a for a in axes if a != "1"]
    arr = value.reshape([s for a, s in zip(axes, value.shape, strict=True) if a != "1"])
    if core == ["c", "n"]:
        arr = arr.T
    return np.ascontiguousarray(arr)[None]


def load_source(path, *, arch=None, sizes=None) -> Source:
    if arch is not None:
        raise ConfigError("--arch is for paper checkpoints; an ONNX file describes itself")
    try:
        graph = from_onnx(path)
    except ConversionError as e:  # UnsupportedOpError too: say what is read, and where
        if e.hint is None:
            e.hint = (
                "the ONNX frontend reads DGCNN-family graphs (a TopK k-NN per EdgeConv layer, "
                "1x1 convolutions or products, max over neighbours, global pooling, a head): "
                "docs/onnx-frontend.md lists the forms; a checkpoint of our or the paper's "
                "architectures converts from PyTorch (the paper's with --arch)"
            )
        raise
    runner = OnnxTraceRunner(path, graph)
    binary = graph.model.is_binary
    notes = []
    if getattr(graph, "channels_first", False):
        notes.append(
            "the file takes channels-first clouds [1, 3, N]; the converted models take "
            "bgnn-deploy's [1, N, 3] (the references were fed the same clouds transposed)"
        )
    return Source(
        description=graph.model,
        arch=f"onnx:{Path(path).name}",
        config={"source": str(path), **graph.model.meta},
        trace=runner.trace,
        reference_name="ONNX Runtime",
        num_points=graph.model.num_points,
        classes=graph.model.classes,
        # a float file is its own float model: float.tflite is checked against it
        float_trace=None if binary else runner.trace,
        float_unchecked=(
            "float.tflite: the float baseline of a binary ONNX model (sign removed, latent "
            "weights used as they are, L2 k-NN) has no reference: the file holds the binary "
            "network only, and ONNX Runtime cannot run it in float mode"
            if binary
            else None
        ),
        notes=tuple(notes),
    )


FRONTEND = Frontend(
    name="onnx",
    summary="ONNX files of DGCNN-family networks (.onnx)",
    formats=("onnx",),
    load=load_source,
)
