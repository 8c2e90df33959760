"""The model description between frontends and backends: plain NumPy, no torch, no TF.

A binary GNN of the DGCNN family is a list of EdgeConv layers (k-NN in some metric ->
edge features -> per-edge ops -> max over neighbours -> per-node ops), a pointwise
embedding of the concatenated node features, global max + mean pooling, and a head.
Every op is a frozen dataclass holding NumPy arrays, so that a frontend (PyTorch,
ONNX) only has to produce these and a backend (Keras + Larq -> LCE) only to consume
them; adding either is one module.

    >>> import numpy as np
    >>> d = Dense(np.ones((4, 8), np.float32), binary_weights=True, binary_inputs=True)
    >>> d.out_channels, d.is_binary
    (4, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "L2_FORMS",
    "BatchNorm",
    "Center",
    "Dense",
    "EdgeConv",
    "GraphModel",
    "LeakyReLU",
    "Op",
    "PReLU",
    "Scale",
    "Sign",
]


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Inference BatchNorm over the channel (last) axis."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5


@dataclass(frozen=True, eq=False)
class Sign:
    """±1 with sign(0) = +1; its output stays float (it feeds k-NN and edge features)."""


@dataclass(frozen=True, eq=False)
class Dense:
    """Pointwise (1x1) product over channels: ``y = x @ w.T (+ bias)``.

    ``binary_weights``: the forward pass uses sign(w) (w holds the latent weights).
    ``binary_inputs``: the inputs are binarized (sign) first, so with binary weights the
    product is XNOR + popcount: a binary op (LceBconv2d).
    """

    weight: np.ndarray  # (out, in) float32
    binary_weights: bool = False
    binary_inputs: bool = False
    bias: np.ndarray | None = None

    @property
    def in_channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def is_binary(self) -> bool:
        return self.binary_weights and self.binary_inputs

    def effective_weight(self) -> np.ndarray:
        if self.binary_weights:
            return np.where(self.weight >= 0, 1.0, -1.0).astype(np.float32)
        return self.weight.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Scale:
    """Learned rescale: per channel, optionally also per point and per neighbour."""

    channel: np.ndarray
    point: np.ndarray | None = None
    neighbour: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class PReLU:
    alpha: np.ndarray  # shape (1,) (shared) or (C,)


@dataclass(frozen=True, eq=False)
class LeakyReLU:
    alpha: float = 0.2


@dataclass(frozen=True, eq=False)
class Center:
    """Balance function: subtract the mean/median over points or channels, per sample."""

    op: str  # "mean" | "median"
    axis: str  # "points" | "channels"


Op = BatchNorm | Sign | Dense | Scale | PReLU | LeakyReLU | Center


#: How an L2 k-NN's score is rounded (the neighbours are the same; near ties follow the
#: source's arithmetic): "sq_first" ``-((|xi|^2 - 2 xi.xj) + |xj|^2)`` (our PyTorch
#: reference); "neighbour_first" ``(2 xi.xj - |xj|^2) - |xi|^2`` (DGCNN's ``knn``);
#: "cdist" ``-sqrt(max([-2 xi, |xi|^2, 1] . [xj, 1, |xj|^2], 0))`` (``torch.cdist`` as
#: ``torch.onnx.export`` writes it).
L2_FORMS = ("sq_first", "neighbour_first", "cdist")


@dataclass(frozen=True, eq=False)
class EdgeConv:
    k: int
    metric: str  # "l2" | "hamming"
    edge_op: str  # "sub" | "xor"
    edge_ops: tuple[Op, ...]
    node_ops: tuple[Op, ...]
    l2_form: str = "sq_first"  # one of L2_FORMS (L2 layers only)

    @property
    def out_channels(self) -> int:
        return _out_channels(self.edge_ops)


def _out_channels(ops: tuple[Op, ...]) -> int:
    dense = [op for op in ops if isinstance(op, Dense)]
    if not dense:
        raise ValueError("an op list without Dense has no defined width")
    return dense[-1].out_channels


@dataclass(frozen=True, eq=False)
class GraphModel:
    """A whole network. Input: one cloud ``(num_points, in_channels)``; output: logits."""

    name: str
    num_points: int
    in_channels: int
    edge_convs: tuple[EdgeConv, ...]
    embed: tuple[Op, ...]
    head: tuple[Op, ...]
    meta: dict = field(default_factory=dict)

    @property
    def classes(self) -> int:
        return _out_channels(self.head)

    @property
    def is_binary(self) -> bool:
        return any(isinstance(op, Dense) and op.is_binary for op in self.all_ops())

    def all_ops(self) -> list[Op]:
        ops: list[Op] = []
        for layer in self.edge_convs:
            ops += [*layer.edge_ops, *layer.node_ops]
        return [*ops, *self.embed, *self.head]

    def float_baseline(self) -> GraphModel:
        """The same network with float weights and activations wherever this one has ±1:
        no sign, latent weights used as they are, L2 k-NN and subtraction edges."""

        def floatify(ops: tuple[Op, ...]) -> tuple[Op, ...]:
            out: list[Op] = []
            for op in ops:
                if isinstance(op, Sign):
                    continue
                if isinstance(op, Dense):
                    op = dataclasses.replace(op, binary_weights=False, binary_inputs=False)
                out.append(op)
            return tuple(out)

        layers = tuple(
            dataclasses.replace(
                layer,
                metric="l2",
                l2_form=layer.l2_form if layer.metric == "l2" else "sq_first",
                edge_op="sub",
                edge_ops=floatify(layer.edge_ops),
                node_ops=floatify(layer.node_ops),
            )
            for layer in self.edge_convs
        )
        return dataclasses.replace(
            self,
            name=f"{self.name}-float",
            edge_convs=layers,
            embed=floatify(self.embed),
            head=floatify(self.head),
        )

    def macs(self) -> dict[str, int]:
        """Multiply-accumulates of one inference, split into binary and float.

        Pointwise products count in x out per position (N x k edges, N nodes, 1 for the
        head); a k-NN counts its N x N x C distance products, binary in Hamming space.
        """
        n = self.num_points
        binary = flt = 0
        c = self.in_channels
        for layer in self.edge_convs:
            knn = n * n * c
            if layer.metric == "hamming":
                binary += knn
            else:
                flt += knn
            for op in layer.edge_ops:
                if isinstance(op, Dense):
                    macs = n * layer.k * op.in_channels * op.out_channels
                    binary, flt = (binary + macs, flt) if op.is_binary else (binary, flt + macs)
            c = layer.out_channels
        for ops, positions in ((self.embed, n), (self.head, 1)):
            for op in ops:
                if isinstance(op, Dense):
                    macs = positions * op.in_channels * op.out_channels
                    binary, flt = (binary + macs, flt) if op.is_binary else (binary, flt + macs)
        return {"binary": binary, "float": flt}
