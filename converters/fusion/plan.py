"""What ``convert --fuse`` makes of a model description: one typed plan per fused op.

A plan holds exactly the constants the custom ops take (docs/ops/BgnnEdgeConv.md,
BgnnEmbedPool.md): packed ±1 weights, per-channel rules or output functions. Only the
XOR-edge binary variants fuse (BF1, BF2, with L2 or Hamming k-NN in layers 2-4: on ±1
features the two rank neighbours identically); anything else is refused with the layer
that stops it, so a user never gets a silently different network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.fusion.rules import (
    ChannelRules,
    batchnorm_terms,
    float_rules,
    integer_rules,
)

from bgnn_deploy.errors import ConversionError

__all__ = ["FusedEdgeConv", "FusedEmbed", "FusedPlan", "pack_signs", "plan_fusion"]


def pack_signs(weights: np.ndarray) -> np.ndarray:
    """±1 rows (sign of each value, 0 -> +1) -> int32 words [rows, ceil(C/32)], LCE's bit
    layout: channel c in word c // 32, bit c % 32, bit 1 for -1, padding bits 0."""
    rows, channels = weights.shape
    words = -(-channels // 32)
    bits = np.zeros((rows, words * 32), np.uint64)
    bits[:, :channels] = weights < 0
    shifts = np.arange(32, dtype=np.uint64)
    packed = (bits.reshape(rows, words, 32) << shifts).sum(-1).astype(np.uint32)
    return packed.view(np.int32)


@dataclass(frozen=True, eq=False)
class FusedEdgeConv:
    """One EdgeConv: its k-NN and the fused convolution up to the next sign."""

    k: int
    knn: str  # "l2" (real input points) or "hamming" (packed ±1 features)
    channels_in: int
    channels_out: int
    weights: np.ndarray  # float32 [Cout, 2C] (real inputs) or int32 [Cout, 2, words(C)]
    rules: ChannelRules
    signs: np.ndarray  # float32 ±1 [Cout, 2C]: the weights as the reference uses them

    @property
    def binary_input(self) -> bool:
        return self.knn == "hamming"


@dataclass(frozen=True, eq=False)
class FusedEmbed:
    """The embedding conv over the concatenated node features, pooled (max, mean)."""

    channels_in: tuple[int, ...]
    channels_out: int
    filters: np.ndarray  # int32 [E, words(sum)]
    params: np.ndarray  # float32 [E, 4]: scale, PReLU slope, BatchNorm mul, add
    signs: np.ndarray  # float32 ±1 [E, sum]


@dataclass(frozen=True, eq=False)
class FusedPlan:
    num_points: int
    in_channels: int
    layers: tuple[FusedEdgeConv, ...]
    embed: FusedEmbed


_EDGE_FUNCTIONS = (ir.Scale, ir.PReLU, ir.LeakyReLU, ir.BatchNorm)


def _refuse(where: str, why: str) -> ConversionError:
    return ConversionError(
        f"--fuse cannot fuse {where}: {why}",
        hint="--fuse takes the XOR-edge binary DGCNNs (bin-dgcnn-bf1, bin-dgcnn-bf2); "
        "convert without --fuse for the portable LCE form",
    )


def _check_functions(ops, where: str) -> None:
    for op in ops:
        if not isinstance(op, _EDGE_FUNCTIONS):
            raise _refuse(where, f"{type(op).__name__} is not a per-channel function")
        if isinstance(op, ir.Scale) and (op.point is not None or op.neighbour is not None):
            raise _refuse(
                where, "per-point or per-neighbour scales depend on more than the channel"
            )


def _edge_conv(layer: ir.EdgeConv, index: int, channels_in: int) -> FusedEdgeConv:
    where = f"EdgeConv layer {index + 1}"
    ops = layer.edge_ops
    if not ops or not isinstance(ops[0], ir.Dense) or not ops[0].binary_weights:
        raise _refuse(where, "its edge MLP does not start with a binary-weight convolution")
    dense = ops[0]
    if dense.bias is not None:
        raise _refuse(where, "its convolution has a bias")
    if any(isinstance(op, ir.Dense) for op in ops[1:]):
        raise _refuse(where, "its edge MLP has more than one convolution")
    edge_functions = ops[1:]
    _check_functions(edge_functions, where)
    if not layer.node_ops or not isinstance(layer.node_ops[-1], ir.Sign):
        raise _refuse(where, "its node features are not binarized (no sign after the max)")
    node_functions = layer.node_ops[:-1]
    for op in node_functions:
        if isinstance(op, ir.Center):
            raise _refuse(where, "a balance function needs statistics over all points")
        if not isinstance(op, ir.BatchNorm | ir.Scale) or (
            isinstance(op, ir.Scale) and (op.point is not None or op.neighbour is not None)
        ):
            raise _refuse(where, f"{type(op).__name__} between the max and the sign")
    if dense.in_channels != 2 * channels_in:
        raise _refuse(
            where, f"its convolution takes {dense.in_channels} channels, not 2 x {channels_in}"
        )
    weight = dense.effective_weight()
    if index == 0:
        if layer.edge_op != "sub" or dense.binary_inputs or layer.metric != "l2":
            raise _refuse(where, "the first layer must have real x_j - x_i edges and an L2 k-NN")
        rules = float_rules(edge_functions, node_functions, where=where)
        weights = weight.astype(np.float32)
        knn = "l2"
    else:
        if layer.edge_op != "xor" or not dense.binary_inputs:
            raise _refuse(where, "its edge features are not XOR of ±1 node features")
        rules = integer_rules(edge_functions, node_functions, channels_in=channels_in, where=where)
        words = -(-channels_in // 32)
        weights = np.stack(
            [pack_signs(weight[:, :channels_in]), pack_signs(weight[:, channels_in:])], axis=1
        ).reshape(dense.out_channels, 2, words)
        knn = "hamming"  # L2 on ±1 rows ranks exactly as Hamming (4x the distance)
    return FusedEdgeConv(layer.k, knn, channels_in, dense.out_channels, weights, rules, weight)


def _embed(model: ir.GraphModel, widths: list[int]) -> FusedEmbed:
    ops = model.embed
    where = "the embedding"
    if not ops or not isinstance(ops[0], ir.Dense) or not ops[0].is_binary:
        raise _refuse(where, "it is not a binary convolution of the ±1 node features")
    dense = ops[0]
    if dense.bias is not None:
        raise _refuse(where, "its convolution has a bias")
    e = dense.out_channels
    scale = np.ones(e, np.float32)
    slope = np.ones(e, np.float32)
    mul, add = np.ones(e, np.float32), np.zeros(e, np.float32)
    order = [ir.Scale, ir.PReLU, ir.BatchNorm]
    position = 0
    for op in ops[1:]:
        kinds = [i for i, kind in enumerate(order) if isinstance(op, kind)]
        if not kinds or kinds[0] < position:
            raise _refuse(
                where,
                f"{type(op).__name__} after its convolution "
                "(fusable: scale, PReLU, BatchNorm, in that order)",
            )
        position = kinds[0] + 1
        if isinstance(op, ir.Scale):
            if op.point is not None or op.neighbour is not None:
                raise _refuse(where, "per-point scales")
            scale = np.broadcast_to(op.channel.astype(np.float32), (e,)).copy()
        elif isinstance(op, ir.PReLU):
            slope = np.broadcast_to(op.alpha.astype(np.float32).reshape(-1), (e,)).copy()
        else:
            mul, add = batchnorm_terms(op)
    if dense.in_channels != sum(widths):
        raise _refuse(
            where, f"it takes {dense.in_channels} channels, the layers give {sum(widths)}"
        )
    params = np.stack([scale, slope, mul, add], axis=1).astype(np.float32)
    signs = dense.effective_weight()
    return FusedEmbed(tuple(widths), e, pack_signs(signs), params, signs)


def plan_fusion(model: ir.GraphModel) -> FusedPlan:
    """The fused ops for ``model``, or :class:`ConversionError` naming what cannot fuse."""
    if not model.edge_convs:
        raise _refuse("this model", "it has no EdgeConv layers")
    layers, widths, channels = [], [], model.in_channels
    for i, layer in enumerate(model.edge_convs):
        fused = _edge_conv(layer, i, channels)
        layers.append(fused)
        widths.append(fused.channels_out)
        channels = fused.channels_out
    return FusedPlan(model.num_points, model.in_channels, tuple(layers), _embed(model, widths))
