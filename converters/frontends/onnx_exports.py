"""Reader for ``torch.onnx.export`` graphs of DGCNN-family networks (legacy and dynamo).

The file is cleaned with onnxscript's optimizer (constant folding, dead code), and what
constant plumbing is left (``Constant``, ``ConstantOfShape``, ``Sign`` of weights) is
evaluated with ONNX's reference evaluator. The graph is then walked once in order, each
tensor carrying what it means (the input points, a layer's node or edge features, k-NN
indices, neighbours, pooled vectors, the head) and a label per axis (``n`` points, ``c``
channels, ``k`` neighbours, ``1`` unit, ``n*k`` flattened), so that layout plumbing
(``Transpose``, ``Reshape``, ``Unsqueeze``, ``Squeeze``, ``Expand``, ``Tile``) is
followed whatever the exporter wrote, channels first or last.

Each ``TopK`` is one EdgeConv's k-NN. Its score (everything between the layer's features
and the TopK that feeds nothing else) is not parsed spelling by spelling: it is cut out
and run in ONNX Runtime on random features, and its neighbours are compared with the L2
k-NN (random real features) and the Hamming k-NN (random ±1 features, ties to the lower
index): the metric is the one it computes. Everything else must be one of the ops of
:mod:`~bgnn_deploy.converters.ir` (1x1 ``Conv``, ``Gemm``/``MatMul`` with constant weights,
``BatchNormalization``, per-channel ``Mul``/``Add``, ``PRelu``, ``LeakyRelu``, ``Sign`` or
``Where(x >= 0, 1, -1)``,
``ReduceMax`` over neighbours, global max + mean pooling), else
:class:`~bgnn_deploy.errors.UnsupportedOpError` names the node, why and what to do.
docs/onnx-frontend.md lists the spellings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bgnn_deploy.converters import ir

from bgnn_deploy.errors import ConversionError, UnsupportedOpError

__all__ = ["ExportGraph", "claims", "read_export"]

_PASS = {"Identity", "Dropout"}
_LAYOUT = {"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Expand", "Tile"}
_HINT = (
    "bgnn-deploy reads DGCNN-family graphs (docs/onnx-frontend.md lists what is "
    "recognised); export the model with static shapes and batch 1, or open an issue "
    "with the file"
)


@dataclass(frozen=True)
class _V:
    """What a tensor means. ``stage`` names the op list its ops go to."""

    kind: str  # pts | edge | idx | nbr | rel | vec | ge0:<kind> (that tensor >= 0)
    stage: str  # pts: points | nodes<i> | embed; edge: edges<i>; vec: max | mean | head
    version: int  # how many ops of the stage it has seen
    axes: tuple[str, ...]
    shape: tuple[int, ...]
    layer: int = -1
    neg: bool = False  # neighbours negated (the XOR edge -x_j * x_i)
    edge_op: str = ""

    def axis(self, label: str) -> int:
        return self.axes.index(label)

    def core(self) -> tuple[str, ...]:
        return tuple(a for a in self.axes if a != "1")


@dataclass
class ExportGraph:
    """The description plus the ONNX tensors the trace runner reads per layer."""

    model: ir.GraphModel
    knn_tensors: list[str]
    node_tensors: list[str]
    node_axes: list[tuple[str, ...]]  # axis labels of each node tensor (to [1, N, C])
    presign_tensors: list[str | None]  # the value before a layer's final Sign, if any
    input_name: str
    output_name: str
    channels_first: bool  # the file's input is [1, 3, N]


def claims(proto) -> bool:
    """Whether this reader is the one for a graph: torch exports write products as Conv."""
    return any(node.op_type == "Conv" for node in proto.graph.node)


def _clean(proto):
    """Constant folding and dead-code removal with onnxscript; names of kept values stay."""
    import onnx_ir
    import onnxscript.optimizer as optimizer

    model = onnx_ir.serde.deserialize_model(proto)
    optimizer.fold_constants(model)
    optimizer.remove_unused_nodes(model)
    return onnx_ir.serde.serialize_model(model)


def _node_name(node) -> str:
    return node.name or node.output[0]


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


class _Reader:
    def __init__(self, proto, original):
        from onnx import numpy_helper

        self.proto = proto
        self.original_names = {o for n in original.graph.node for o in n.output}
        self.original_names |= {i.name for i in original.graph.input}
        self.consts = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
        self.vals: dict[str, _V] = {}
        self.ops: dict[str, list] = {"points": []}
        self.tip: dict[str, str] = {}
        self.frozen: set[str] = set()
        self.layers: list[dict] = []
        self.knn_tensors: list[str] = []
        self.opset = next(
            (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 17
        )
        self.producer = {o: n for n in proto.graph.node for o in n.output}
        self.score_nodes = self._score_nodes()
        self.head_done = False

    # -- failing ---------------------------------------------------------------------------
    def fail(self, node, why: str, hint: str = _HINT):
        raise UnsupportedOpError(
            f"ONNX node '{_node_name(node)}' ({node.op_type}): {why}", hint=hint
        )

    # -- the score regions of the k-NN -----------------------------------------------------
    def _score_nodes(self) -> set[int]:
        """Indices of nodes whose outputs feed only TopK scores (the k-NN distance math)."""
        nodes = list(self.proto.graph.node)
        consumers: dict[str, list[tuple[int, int]]] = {}
        for i, node in enumerate(nodes):
            for j, name in enumerate(node.input):
                consumers.setdefault(name, []).append((i, j))
        outputs = {o.name for o in self.proto.graph.output}
        score: set[int] = set()
        for i in reversed(range(len(nodes))):
            node = nodes[i]
            if node.op_type == "TopK" or not node.output:
                continue
            uses = [c for o in node.output for c in consumers.get(o, [])]
            if not uses or any(o in outputs for o in node.output):
                continue
            if all(c in score or (nodes[c].op_type == "TopK" and j == 0) for c, j in uses):
                score.add(i)
        return score

    # -- constants -------------------------------------------------------------------------
    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def fold(self, node) -> None:
        """A node of constants only: evaluated with ONNX's reference evaluator."""
        from onnx import helper, numpy_helper
        from onnx.reference import ReferenceEvaluator

        if node.op_type == "Constant":
            value = _attr(node, "value")
            if value is not None:
                self.consts[node.output[0]] = numpy_helper.to_array(value)
                return
        inputs = [n for n in node.input if n]
        graph = helper.make_graph(
            [node],
            "fold",
            [],
            [helper.make_empty_tensor_value_info(o) for o in node.output],
            initializer=[numpy_helper.from_array(np.asarray(self.consts[n]), n) for n in inputs],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            results = ReferenceEvaluator(model).run(None, {})
        except Exception as e:
            self.fail(node, f"could not evaluate this constant subgraph ({str(e)[:120]})")
        for name, value in zip(node.output, results, strict=True):
            self.consts[name] = np.asarray(value)

    # -- the walk --------------------------------------------------------------------------
    def run(self):
        graph = self.proto.graph
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ConversionError(f"expected one input (the point cloud), found {len(inputs)}")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) != 3 or dims[0] != 1 or min(dims) < 1:
            raise ConversionError(
                f"input must be one cloud [1, 3, N] or [1, N, 3] with static sizes, got {dims}",
                hint="export with a fixed batch of 1 (no dynamic_axes / dynamic_shapes)",
            )
        self.channels_first = dims[1] < dims[2]
        self.num_points = dims[2] if self.channels_first else dims[1]
        self.in_channels = dims[1] if self.channels_first else dims[2]
        axes = ("1", "c", "n") if self.channels_first else ("1", "n", "c")
        self.input_name = inputs[0].name
        self.vals[self.input_name] = _V("pts", "points", 0, axes, tuple(dims))
        self.tip["points"] = self.input_name
        for index, node in enumerate(graph.node):
            if index in self.score_nodes:
                continue
            if all(n in self.consts or n == "" for n in node.input):
                self.fold(node)
                continue
            self.visit(node)
        out = graph.output[0].name
        v = self.vals.get(out)
        if v is None or v.kind != "vec" or v.stage != "head":
            raise ConversionError(
                "the graph's output is not a classifier head after global pooling",
                hint=_HINT,
            )
        if v.version != len(self.ops["head"]):
            raise ConversionError("the graph's output is not the end of the head")
        return out

    def val(self, node, index: int) -> _V | None:
        if index >= len(node.input) or not node.input[index]:
            return None
        return self.vals.get(node.input[index])

    def set(self, node, v: _V, index: int = 0) -> None:
        self.vals[node.output[index]] = v

    def visit(self, node):
        op = node.op_type
        if op == "TopK":
            self.topk(node)
            return
        ins = [self.val(node, i) for i in range(len(node.input))]
        known = [v for v in ins if v is not None]
        if not known:
            self.fail(node, "no input comes from the point cloud")
        a = ins[0]
        if op in _PASS:
            if a is None:
                self.fail(node, "expected the features as its first input")
            self.set(node, a)
            return
        if op in _LAYOUT:
            if a is None or any(v is not None for v in ins[1:]):
                self.fail(node, "its shape inputs must be constants")
            self.set(node, self.layout(node, a))
            return
        if op in ("Gather", "GatherND"):
            self.gather(node, ins)
            return
        if op == "Add" and a is not None and a.kind == "idx":
            c = self.const(node.input[1])
            if c is None or np.any(c != 0):
                self.fail(node, "only a zero offset (the batch index base of batch 1) is expected")
            self.set(node, a)
            return
        if op == "Neg" and a.kind == "nbr":
            self.set(node, dataclasses.replace(a, neg=not a.neg))
            return
        if op in ("Sub", "Mul") and len(known) == 2:
            self.edge(node, ins)
            return
        if op == "Neg" and a.kind == "rel" and a.edge_op == "prod":
            self.set(node, dataclasses.replace(a, edge_op="xor"))
            return
        if op == "Concat":
            self.concat(node, ins)
            return
        if op in ("ReduceMax", "ReduceMean", "MaxPool", "GlobalAveragePool", "GlobalMaxPool"):
            self.reduce(node, a)
            return
        if op in ("GreaterOrEqual", "Where") and a is not None:
            self.sign_by_where(node, a, known)
            return
        if a is not None and a.kind in ("pts", "edge", "vec") and len(known) == 1:
            self.layer_op(node, a)
            return
        self.fail(node, f"not expected on {a.kind if a else 'constant'} tensors here")

    # -- layout ----------------------------------------------------------------------------
    def layout(self, node, v: _V) -> _V:
        op = node.op_type
        axes, shape = list(v.axes), list(v.shape)
        if op == "Transpose":
            perm = _attr(node, "perm", list(reversed(range(len(axes)))))
            return dataclasses.replace(
                v, axes=tuple(axes[p] for p in perm), shape=tuple(shape[p] for p in perm)
            )
        if op in ("Unsqueeze", "Squeeze"):
            where = _attr(node, "axes")
            if where is None and len(node.input) > 1 and node.input[1]:
                where = self.const(node.input[1]).reshape(-1).tolist()
            if op == "Squeeze":
                if where is None:
                    where = [i for i, s in enumerate(shape) if s == 1]
                where = sorted(int(w) % len(axes) for w in where)
                if any(shape[w] != 1 for w in where):
                    self.fail(node, "squeezes an axis that is not of size 1")
                keep = [i for i in range(len(axes)) if i not in where]
                return dataclasses.replace(
                    v, axes=tuple(axes[i] for i in keep), shape=tuple(shape[i] for i in keep)
                )
            rank = len(axes) + len(where)
            for w in sorted(int(w) % rank for w in where):
                axes.insert(w, "1")
                shape.insert(w, 1)
            return dataclasses.replace(v, axes=tuple(axes), shape=tuple(shape))
        if op in ("Reshape", "Flatten"):
            if op == "Flatten":
                at = int(_attr(node, "axis", 1)) % (len(shape) + 1)
                target = [int(np.prod(shape[:at])), int(np.prod(shape[at:]))]
            else:
                target = [int(t) for t in self.const(node.input[1]).reshape(-1)]
                allowzero = _attr(node, "allowzero", 0)
                target = [shape[i] if t == 0 and not allowzero else t for i, t in enumerate(target)]
                if -1 in target:
                    known = int(np.prod([t for t in target if t != -1]))
                    target[target.index(-1)] = int(np.prod(shape)) // max(known, 1)
            return self.reshape(node, v, target)
        # Expand / Tile: a unit axis grown to k (the centre repeated over neighbours)
        if op == "Expand":
            target = [int(t) for t in self.const(node.input[1]).reshape(-1)]
            rank = max(len(target), len(shape))
            shape = [1] * (rank - len(shape)) + shape
            axes = ["1"] * (rank - len(axes)) + axes
            target = [1] * (rank - len(target)) + target
            grown = [max(s, t) for s, t in zip(shape, target, strict=True)]
        else:
            reps = [int(t) for t in self.const(node.input[1]).reshape(-1)]
            grown = [s * r for s, r in zip(shape, reps, strict=True)]
        for i, (s, g) in enumerate(zip(shape, grown, strict=True)):
            if s == g:
                continue
            if s != 1 or v.kind != "pts" or g != self.k_of(v):
                self.fail(node, "only repeating a point's features over its k neighbours")
            axes[i] = "k"
        return dataclasses.replace(v, axes=tuple(axes), shape=tuple(grown))

    def k_of(self, v: _V) -> int:
        """The k of the layer that reads this stage (the centre of its edges)."""
        for layer in self.layers:
            if layer["src"] == v.stage:
                return layer["k"]
        return -1

    def atoms(self, label: str, size: int, node) -> list[tuple[str, int]]:
        parts = label.split("*")
        if len(parts) == 1:
            return [(label, size)]
        if parts != ["n", "k"]:
            self.fail(node, f"cannot follow a reshape of axes {label}")
        return [("n", self.num_points), ("k", size // self.num_points)]

    def reshape(self, node, v: _V, target: list[int]) -> _V:
        """Reshapes that keep the order of the points/channels/neighbour axes: units come and
        go, neighbouring axes merge (``n*k``) or split back."""
        if int(np.prod(target)) != int(np.prod(v.shape)):
            self.fail(node, f"reshape of {list(v.shape)} to {target}")
        atoms = [
            atom
            for label, size in zip(v.axes, v.shape, strict=True)
            if size != 1
            for atom in self.atoms(label, size, node)
        ]
        out = []
        for dim in target:
            if dim == 1:
                out.append("1")
                continue
            labels, product = [], 1
            while product < dim and atoms:
                label, size = atoms.pop(0)
                labels.append(label)
                product *= size
            if product != dim:
                self.fail(
                    node,
                    f"reshape of {list(v.shape)} {list(v.axes)} to {target} mixes "
                    "points, channels and neighbours",
                )
            out.append("*".join(labels))
        if any(label == "c*c" or ("c" in label.split("*") and "*" in label) for label in out):
            self.fail(node, "merging channels with other axes is not supported")
        return dataclasses.replace(v, axes=tuple(out), shape=tuple(target))

    # -- k-NN --------------------------------------------------------------------------------
    def consume(self, node, v: _V) -> None:
        """A stage's features read by a k-NN, a gather, a centre or a concatenation: later
        ops may not change them."""
        if v.kind != "pts":
            self.fail(node, f"expected a layer's features, got {v.kind} tensors")
        if v.version != len(self.ops[v.stage]):
            self.fail(
                node,
                f"reads the {v.stage} features before their last op: branches of per-layer "
                "ops are not supported",
            )
        self.frozen.add(v.stage)

    def topk(self, node) -> None:
        nodes = list(self.proto.graph.node)
        k = self.const(node.input[1])
        if k is None:
            self.fail(node, "k must be a constant")
        k = int(np.asarray(k).reshape(-1)[0])
        # the score region: nodes feeding only this TopK, back to the layer's features
        region, stack, leaves = set(), [node.input[0]], {}
        while stack:
            name = stack.pop()
            if name in self.vals:
                leaves[name] = self.vals[name]
                continue
            if name in self.consts or not name:
                continue
            producer = self.producer.get(name)
            j = next((i for i, n in enumerate(nodes) if n is producer), None)
            if j is None or j not in self.score_nodes:
                self.fail(node, f"its score depends on '{name}', which is not the layer's features")
            if j not in region:
                region.add(j)
                stack.extend(n for n in nodes[j].input if n)
        if not leaves:
            self.fail(node, "its score does not depend on the point cloud")
        stages = {v.stage for v in leaves.values()}
        if len(stages) != 1 or any(v.kind != "pts" for v in leaves.values()):
            self.fail(node, "its score must be computed from one layer's features")
        for v in leaves.values():
            self.consume(node, v)
        (stage,) = stages
        expected = "points" if not self.layers else f"nodes{len(self.layers) - 1}"
        if stage != expected:
            self.fail(node, f"k-NN on the {stage} features; expected the {expected} features")
        metric, form = self.probe(node, [nodes[j] for j in sorted(region)] + [node], leaves, k)
        layer = len(self.layers)
        self.layers.append(
            {"k": k, "metric": metric, "l2_form": form, "src": stage, "edge_op": None}
        )
        self.ops[f"edges{layer}"] = []
        self.knn_tensors.append(node.output[1])
        self.set(
            node,
            _V("idx", f"layer{layer}", 0, ("1", "n", "k"), (1, self.num_points, k), layer),
            index=1,
        )

    def probe(self, topk, nodes, leaves: dict[str, _V], k: int) -> str:
        """Run the score region in ONNX Runtime on random features: which k-NN is it?"""
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        used = {n for node in nodes for n in node.input if n in self.consts}
        graph = helper.make_graph(
            nodes,
            "knn_probe",
            [
                helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape))
                for n, v in leaves.items()
            ],
            [
                helper.make_tensor_value_info(topk.output[1], TensorProto.INT64, None),
                helper.make_tensor_value_info(topk.input[0], TensorProto.FLOAT, None),
            ],
            initializer=[numpy_helper.from_array(np.asarray(self.consts[n]), n) for n in used],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = self.proto.ir_version
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            self.fail(topk, f"its score could not be run on its own ({str(e)[:160]})")
        v0 = next(iter(leaves.values()))
        channels = v0.shape[v0.axis("c")] if "c" in v0.axes else 0
        if not channels or any(set(v.core()) != {"n", "c"} for v in leaves.values()):
            self.fail(topk, "its score must read [points, channels] features")
        n = self.num_points
        rng = np.random.default_rng(0)

        scores = {}

        def run(x):
            feed = {name: _to_layout(x, v) for name, v in leaves.items()}
            out, scores["last"] = session.run(None, feed)
            if tuple(out.shape) != (1, n, k):
                self.fail(topk, f"expected [1, {n}, {k}] neighbour indices, got {list(out.shape)}")
            return out[0]

        def agreement(got, want) -> float:
            return float(np.mean(np.all(got == want, axis=1)))

        x = rng.standard_normal((n, channels))
        sq = (x * x).sum(-1)
        d = sq[:, None] - 2 * x @ x.T + sq[None, :]
        if agreement(run(x.astype(np.float32)), np.argsort(d, axis=1, kind="stable")[:, :k]) > 0.98:
            return "l2", _l2_form(x.astype(np.float32), scores["last"])
        pm1 = np.where(rng.random((n, channels)) < 0.5, -1.0, 1.0)
        want = np.argsort(-(pm1 @ pm1.T), axis=1, kind="stable")[:, :k]
        if agreement(run(pm1.astype(np.float32)), want) == 1.0:
            if not self.binary_stage(v0.stage):
                self.fail(
                    topk,
                    "a dot-product (Hamming) k-NN on real-valued features is not supported",
                )
            return "hamming", "sq_first"
        self.fail(
            topk,
            "its score is neither an L2 k-NN (tried on random features) nor a Hamming k-NN "
            "(tried on random ±1 features, ties to the lower index)",
        )

    def binary_stage(self, stage: str) -> bool:
        ops = self.ops.get(stage, [])
        return bool(ops) and isinstance(ops[-1], ir.Sign)

    def gather(self, node, ins) -> None:
        data, idx = ins[0], ins[1] if len(ins) > 1 else None
        if data is None or idx is None or idx.kind != "idx":
            self.fail(node, "only gathers of neighbours by k-NN indices are supported")
        self.consume(node, data)
        layer = self.layers[idx.layer]
        if data.stage != layer["src"]:
            self.fail(node, "gathers other features than the ones its k-NN was computed on")
        if node.op_type == "Gather":
            axis = int(_attr(node, "axis", 0)) % len(data.axes)
            if data.axes[axis] != "n" or any(data.shape[i] != 1 for i in range(axis)):
                self.fail(node, "must gather along the points axis")
            axes = data.axes[:axis] + idx.axes + data.axes[axis + 1 :]
            shape = data.shape[:axis] + idx.shape + data.shape[axis + 1 :]
        else:
            if _attr(node, "batch_dims", 0) != 0 or idx.shape[-1] != 1 or data.axes[0] != "n":
                self.fail(node, "only GatherND of [points, channels] by [..., 1] indices")
            axes = idx.axes[:-1] + data.axes[1:]
            shape = idx.shape[:-1] + data.shape[1:]
        self.set(node, _V("nbr", f"layer{idx.layer}", 0, axes, shape, idx.layer))

    def edge(self, node, ins) -> None:
        """x_j - x_i (Sub) or -x_j * x_i (Mul of negated neighbours: XOR on ±1)."""
        a, b = ins[0], ins[1]
        kinds = {a.kind, b.kind}
        if kinds != {"nbr", "pts"}:
            self.fail(node, f"not expected between {a.kind} and {b.kind} tensors")
        nbr, centre = (a, b) if a.kind == "nbr" else (b, a)
        self.consume(node, centre)
        layer = self.layers[nbr.layer]
        if centre.stage != layer["src"]:
            self.fail(node, "the centre is not the point whose neighbours were gathered")
        if len(centre.axes) != len(nbr.axes) or any(
            c not in (x, "1") for c, x in zip(centre.axes, nbr.axes, strict=True)
        ):
            self.fail(node, f"cannot align neighbours {list(nbr.axes)} with {list(centre.axes)}")
        if node.op_type == "Sub":
            if a.kind != "nbr" or nbr.neg:
                self.fail(node, "edge features must be x_j - x_i", hint="export x_j - x_i")
            edge_op = "sub"
        else:
            edge_op = "xor" if nbr.neg else "prod"
        self.set(node, dataclasses.replace(nbr, kind="rel", edge_op=edge_op, neg=False))

    def concat(self, node, ins) -> None:
        if any(v is None for v in ins):
            self.fail(node, "concatenates constants with features")
        first = ins[0]
        axis = int(_attr(node, "axis", 0)) % len(first.axes)
        if first.axes[axis] != "c":
            self.fail(node, "concatenations must be along channels")
        kinds = [v.kind for v in ins]
        if kinds == ["rel", "pts"]:
            rel, centre = ins
            self.consume(node, centre)
            layer = self.layers[rel.layer]
            if rel.edge_op not in ("sub", "xor") or centre.stage != layer["src"]:
                self.fail(node, "edge features must be [x_j - x_i, x_i] or [-x_j x_i, x_i]")
            if any(
                c != r and not (c == "1" and r == "k")
                for c, r in zip(centre.axes, rel.axes, strict=True)
            ):
                self.fail(node, "the centre is not repeated over the neighbours")
            if rel.edge_op == "xor" and not self.binary_stage(centre.stage):
                self.fail(node, "XOR edge features need ±1 node features")
            layer["edge_op"] = rel.edge_op
            shape = list(rel.shape)
            shape[axis] *= 2
            stage = f"edges{rel.layer}"
            self.tip[stage] = node.output[0]
            self.set(node, _V("edge", stage, 0, rel.axes, tuple(shape), rel.layer))
            return
        if sorted(kinds) == ["rel", "pts"]:
            self.fail(node, "edge features must be concatenated as [relative, centre]")
        if all(k == "pts" for k in kinds):
            stages = [v.stage for v in ins]
            want = [f"nodes{i}" for i in range(len(self.layers))]
            if stages != want:
                self.fail(node, f"the embedding must concatenate {want} in order, got {stages}")
            for v in ins:
                self.consume(node, v)
            if any(v.axes != first.axes for v in ins):
                self.fail(node, "concatenated node features of different layouts")
            shape = list(first.shape)
            shape[axis] = sum(v.shape[axis] for v in ins)
            self.ops["embed"] = []
            self.embed_binary = all(self.binary_stage(s) for s in stages)
            self.tip["embed"] = node.output[0]
            self.set(node, _V("pts", "embed", 0, first.axes, tuple(shape)))
            return
        if sorted(v.stage for v in ins if v.kind == "vec") == ["max", "mean"] and len(ins) == 2:
            if [v.stage for v in ins] != ["max", "mean"]:
                self.fail(node, "pooling must concatenate max then mean")
            if ins[0].core() != ("c",) or ins[1].core() != ("c",):
                self.fail(node, "pooled vectors must be [1, C]")
            shape = list(first.shape)
            shape[axis] *= 2
            self.ops["head"] = []
            self.tip["head"] = node.output[0]
            self.set(node, _V("vec", "head", 0, first.axes, tuple(shape)))
            return
        self.fail(node, f"unsupported concatenation of {kinds}")

    def reduce(self, node, a: _V) -> None:
        op = node.op_type
        if a is None:
            self.fail(node, "reduces a constant")
        rank = len(a.axes)
        if op in ("ReduceMax", "ReduceMean"):
            axes = _attr(node, "axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = self.const(node.input[1]).reshape(-1).tolist()
            axes = sorted({int(x) % rank for x in (axes if axes is not None else range(rank))})
            keep = bool(_attr(node, "keepdims", 1))
        else:
            if op == "MaxPool":
                kernel = list(_attr(node, "kernel_shape", []))
                pads = list(_attr(node, "pads", []))
                if kernel != list(a.shape[2:]) or any(pads) or _attr(node, "dilations"):
                    self.fail(node, "only a max pool over all points (global pooling)")
            axes, keep = list(range(2, rank)), True
        reduced = [a.axes[i] for i in axes if a.shape[i] != 1]
        axes_out = [
            ("1" if i in axes else x) for i, x in enumerate(a.axes) if i not in axes or keep
        ]
        shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape) if i not in axes or keep)
        if a.kind == "edge" and reduced == ["k"] and op == "ReduceMax":
            stage = f"nodes{a.layer}"
            self.check_tip(node, a)
            self.frozen.add(a.stage)
            self.ops[stage] = []
            self.tip[stage] = node.output[0]
            self.set(node, _V("pts", stage, 0, tuple(axes_out), shape, a.layer))
            return
        if a.kind == "pts" and a.stage == "embed" and reduced == ["n"]:
            self.consume(node, a)
            stage = "mean" if op in ("ReduceMean", "GlobalAveragePool") else "max"
            self.ops.setdefault(stage, [])
            self.set(node, _V("vec", stage, 0, tuple(axes_out), shape))
            return
        self.fail(
            node,
            f"reduces {reduced} of {a.kind} tensors; expected the max over "
            "neighbours, or global max/mean pooling over points after the embedding",
        )

    def check_tip(self, node, v: _V) -> None:
        if v.version != len(self.ops[v.stage]):
            self.fail(node, f"reads the {v.stage} tensors before their last op (a branch)")

    # -- per-layer ops -----------------------------------------------------------------------
    def channel_vector(self, node, v: _V, c: np.ndarray) -> np.ndarray:
        """A constant that broadcasts along the channel axis only, as a (C,) or (1,) vector."""
        c = np.asarray(c, np.float32)
        if c.ndim > len(v.axes):
            self.fail(node, "constant of higher rank than the features")
        full = (1,) * (len(v.axes) - c.ndim) + c.shape
        cax = v.axis("c") if "c" in v.axes else -1
        for i, s in enumerate(full):
            if s != 1 and i != cax:
                self.fail(node, f"only per-channel constants (this one varies along {v.axes[i]})")
        return c.reshape(-1) if c.size > 1 else c.reshape(1)

    def layer_op(self, node, a: _V) -> None:
        op = node.op_type
        stage = a.stage
        if stage in ("points", "max", "mean"):
            where = "input points" if stage == "points" else "pooled vectors"
            self.fail(node, f"ops on the {where} are not supported (only layout changes)")
        if stage in self.frozen:
            self.fail(node, f"changes the {stage} features after the next layer read them")
        self.check_tip(node, a)
        ops = self.ops[stage]
        cax = a.axis("c") if "c" in a.axes else None
        if op == "Sign":
            ops.append(ir.Sign())
        elif op in ("Conv", "MatMul", "Gemm"):
            width = self.product(node, a, ops, cax)
            shape = list(a.shape)
            shape[cax] = width
            a = dataclasses.replace(a, shape=tuple(shape))
        elif op == "BatchNormalization":
            if cax != 1:
                self.fail(node, "BatchNormalization must be over the channel axis (axis 1)")
            gamma, beta, mean, var = (self.const(n) for n in node.input[1:5])
            if any(t is None for t in (gamma, beta, mean, var)):
                self.fail(node, "its statistics must be constants")
            ops.append(
                ir.BatchNorm(
                    *(np.asarray(t, np.float32).reshape(-1) for t in (gamma, beta, mean, var)),
                    float(_attr(node, "epsilon", 1e-5)),
                )
            )
        elif op in ("Mul", "Add", "Sub"):
            j = 1 if node.input[0] in self.vals else 0
            c = self.const(node.input[j])
            if c is None:
                self.fail(node, "only per-channel constants are supported here")
            if op == "Sub" and j == 0:
                self.fail(node, "constant minus features is not supported")
            c = self.channel_vector(node, a, c)
            if op == "Mul":
                ops.append(ir.Scale(c))
            else:
                shift = c if op == "Add" else -c
                ones = np.ones_like(shift)
                ops.append(ir.BatchNorm(ones, shift, np.zeros_like(shift), ones, 0.0))
        elif op == "PRelu":
            slope = self.const(node.input[1])
            if slope is None:
                self.fail(node, "the slope must be constant")
            ops.append(ir.PReLU(self.channel_vector(node, a, slope)))
        elif op == "LeakyRelu":
            ops.append(ir.LeakyReLU(float(_attr(node, "alpha", 0.01))))
        elif op == "Relu":
            ops.append(ir.LeakyReLU(0.0))
        else:
            self.fail(node, f"unsupported op on {stage} features")
        self.tip[stage] = node.output[0]
        self.set(node, dataclasses.replace(a, version=len(ops)))

    def sign_by_where(self, node, a: _V, known: list) -> None:
        """``Where(GreaterOrEqual(x, 0), 1, -1)``: a sign with sign(0) = +1 (bgnn-deploy's
        own export writes its binarization so; ONNX's Sign gives 0 there)."""
        op = node.op_type
        if op == "GreaterOrEqual":
            zero = self.const(node.input[1])
            if a.kind not in ("pts", "edge", "vec") or len(known) != 1 or zero is None:
                self.fail(node, "only a comparison of the features with 0 (a sign) is read")
            if np.any(np.asarray(zero) != 0):
                self.fail(node, "only x >= 0 (a sign) is read")
            self.set(node, dataclasses.replace(a, kind="ge0:" + a.kind))
            return
        hi, lo = self.const(node.input[1]), self.const(node.input[2])
        if not a.kind.startswith("ge0:") or hi is None or lo is None:
            self.fail(node, "only Where(x >= 0, 1, -1), a sign, is read")
        if np.any(np.asarray(hi) != 1) or np.any(np.asarray(lo) != -1):
            self.fail(node, "only Where(x >= 0, 1, -1), a sign, is read")
        from onnx import helper

        x = self.producer[node.input[0]].input[0]  # what GreaterOrEqual compared
        sign = helper.make_node("Sign", [x], [node.output[0]], name=node.name)
        self.layer_op(sign, dataclasses.replace(a, kind=a.kind.split(":", 1)[1]))

    def product(self, node, a: _V, ops: list, cax) -> int:
        op = node.op_type
        if a.stage.startswith("nodes"):
            self.fail(
                node,
                "a product after the max over neighbours is not supported "
                "(EdgeConv: products on edges, then the max)",
            )
        if op == "Conv":
            w = self.const(node.input[1])
            if w is None:
                self.fail(node, "weights must be constants")
            if (
                cax != 1
                or any(s != 1 for s in w.shape[2:])
                or _attr(node, "group", 1) != 1
                or any(s != 1 for s in _attr(node, "strides", [1]))
                or any(p != 0 for p in _attr(node, "pads", [0]))
                or any(d != 1 for d in _attr(node, "dilations", [1]))
            ):
                self.fail(node, "only 1x1 convolutions over channels (axis 1)")
            w = np.asarray(w, np.float32).reshape(w.shape[0], w.shape[1])
            bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        elif op == "Gemm":
            if a.core() != ("c",) or _attr(node, "transA", 0):
                self.fail(node, "Gemm is read on [1, C] vectors only")
            w = self.const(node.input[1])
            if w is None:
                self.fail(node, "weights must be constants")
            w = np.asarray(w, np.float32)
            w = (w if _attr(node, "transB", 0) else w.T) * np.float32(_attr(node, "alpha", 1.0))
            bias = None
            if len(node.input) > 2 and node.input[2]:
                bias = self.const(node.input[2])
                if bias is None:
                    self.fail(node, "the bias must be constant")
                bias = np.asarray(bias, np.float32) * np.float32(_attr(node, "beta", 1.0))
                if bias.size == 1:
                    bias = np.full(w.shape[0], bias.reshape(-1)[0], np.float32)
        else:  # MatMul(features [.., C], W [C, out])
            w = self.const(node.input[1])
            if w is None or w.ndim != 2 or cax != len(a.axes) - 1:
                self.fail(node, "MatMul must multiply channels-last features by constant weights")
            w = np.asarray(w, np.float32).T
            bias = None
        if bias is not None:
            bias = np.asarray(bias, np.float32).reshape(-1)
        binary_w = bool(np.all(np.abs(w) == 1.0))
        binary_in = bool(ops) and isinstance(ops[-1], ir.Sign) and binary_w
        if binary_in:
            ops.pop()
        first = not any(isinstance(o, ir.Dense) for o in ops)
        if first and binary_w and a.stage.startswith("edges") and not ops:
            layer = self.layers[a.layer]
            binary_in = binary_in or (layer["edge_op"] == "xor" and self.binary_stage(layer["src"]))
        if first and binary_w and a.stage == "embed" and not ops:
            binary_in = binary_in or self.embed_binary
        ops.append(
            ir.Dense(
                np.ascontiguousarray(w), binary_weights=binary_w, binary_inputs=binary_in, bias=bias
            )
        )
        return int(w.shape[0])

    # -- result ------------------------------------------------------------------------------
    def node_tensor(self, i: int) -> tuple[str, tuple[str, ...], str | None]:
        stage = f"nodes{i}"
        name = self.tip[stage]
        if name not in self.original_names:
            raise ConversionError(f"the node features of layer {i} ('{name}') are not in the file")
        presign = None
        producer = self.producer.get(name)
        if producer is not None and producer.op_type == "Sign":
            presign = producer.input[0] if producer.input[0] in self.original_names else None
        return name, self.vals[name].axes, presign


def _l2_form(x: np.ndarray, score: np.ndarray) -> str:
    """Which rounding of the L2 score (:data:`ir.L2_FORMS`) ONNX Runtime's score on ``x``
    (float32 [N, C]) is closest to: the most entries equal, bit for bit."""
    dot = x @ x.T
    sq = (x * x).sum(-1, dtype=np.float32)
    ones = np.ones_like(sq)[:, None]
    a = np.concatenate([np.float32(-2.0) * x, sq[:, None], ones], axis=1)
    b = np.concatenate([x, ones, sq[:, None]], axis=1)
    candidates = {
        "sq_first": -((sq[:, None] - np.float32(2.0) * dot) + sq[None, :]),
        "neighbour_first": (np.float32(2.0) * dot - sq[None, :]) - sq[:, None],
        "cdist": -np.sqrt(np.maximum(a @ b.T, np.float32(0.0))),
    }
    got = score.reshape(dot.shape)
    return max(candidates, key=lambda form: float(np.mean(candidates[form] == got)))


def _to_layout(x: np.ndarray, v: _V) -> np.ndarray:
    """Canonical [points, channels] features in the layout of a tensor with axes ``v.axes``."""
    core = v.core()
    arr = x if core == ("n", "c") else x.T
    return np.ascontiguousarray(arr.reshape(v.shape)).astype(np.float32)


def read_export(path: Path, proto) -> ExportGraph:
    """Read a cleaned copy of ``proto`` (loaded from ``path``) into a description."""
    reader = _Reader(_clean(proto), proto)
    output_name = reader.run()
    if not reader.layers:
        raise ConversionError(f"{path}: no k-NN (TopK) found: not a dynamic-graph GNN")
    layers = tuple(
        ir.EdgeConv(
            layer["k"],
            layer["metric"],
            layer["edge_op"] or "sub",
            tuple(reader.ops[f"edges{i}"]),
            tuple(reader.ops.get(f"nodes{i}", [])),
            l2_form=layer["l2_form"],
        )
        for i, layer in enumerate(reader.layers)
    )
    for i, layer in enumerate(layers):
        if not any(isinstance(op, ir.Dense) for op in layer.edge_ops):
            raise ConversionError(f"layer {i} has no product (Conv) on its edge features")
    model = ir.GraphModel(
        name=path.stem,
        num_points=reader.num_points,
        in_channels=reader.in_channels,
        edge_convs=layers,
        embed=tuple(reader.ops.get("embed", [])),
        head=tuple(reader.ops["head"]),
        meta={
            "source": "onnx",
            "path": str(path),
            "input_layout": "channels_first" if reader.channels_first else "channels_last",
        },
    )
    tensors = [reader.node_tensor(i) for i in range(len(layers))]
    return ExportGraph(
        model,
        reader.knn_tensors,
        [t[0] for t in tensors],
        [t[1] for t in tensors],
        [t[2] for t in tensors],
        reader.input_name,
        output_name,
        reader.channels_first,
    )
