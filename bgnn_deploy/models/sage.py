"""GraphSAGE for node classification: float ``sage`` and the paper's binary ``bin-sage``.

A layer is ``x'_i = lin_l(mean_{j in N(i)} x_j) + lin_r(x_i)``: the mean is taken over
real-valued features (the memory-bound, sparse part), each linear is a block
(:class:`BinLinearBlock`: centre -> sign -> ±1 linear -> rescale, the compute-bound,
bit-packable part). The model runs on a :class:`Block` list: bipartite graphs from
sampled neighbourhoods (training) or the whole graph once per layer (inference).

    >>> import torch
    >>> from bgnn_deploy.models.sage_config import SageConfig
    >>> model = build_sage(SageConfig(in_channels=4, hidden=8, classes=3)).eval()
    >>> block = Block(torch.tensor([0, 1, 2]), torch.tensor([1, 0]), num_targets=2)
    >>> model(torch.randn(2, 4), [block] * 3).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from bgnn_deploy.models.binary import Binarize, LearnedScale, PointwiseConv, prelu
from bgnn_deploy.models.sage_config import SageConfig

__all__ = [
    "SAGE",
    "BinLinearBlock",
    "Block",
    "MeanAggregation",
    "NodeMedianCenter",
    "SageConv",
    "build_sage",
    "mean_aggregate",
]

# Gathered neighbour features held at once by the aggregation (floats): bounds its memory.
_GATHER_BUDGET = 1 << 24


@dataclass(frozen=True)
class Block:
    """A bipartite graph from source nodes to its first ``num_targets`` of them (targets
    come first among the sources, as in PyTorch Geometric's samplers), as CSR: the
    sources of target ``i`` are ``indices[indptr[i]:indptr[i + 1]]``."""

    indptr: torch.Tensor  # (num_targets + 1,) int64
    indices: torch.Tensor  # (edges,) int64, source positions
    num_targets: int

    @property
    def num_edges(self) -> int:
        return int(self.indices.numel())


def mean_aggregate(x: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Per target ``i``: the mean of ``x[j]`` over its sources ``j`` (0 for none), as
    PyTorch Geometric's ``aggr="mean"``. Works on chunks of targets so that the gathered
    rows never exceed a fixed budget of floats."""
    targets = indptr.numel() - 1
    channels = x.shape[1]
    degree = (indptr[1:] - indptr[:-1]).to(x.dtype)
    per_chunk = max(1, _GATHER_BUDGET // max(1, channels))
    parts, start = [], 0
    while start < targets:
        # The longest run of targets whose edges fit the budget (at least one target).
        limit = int(indptr[start]) + per_chunk
        stop = int(torch.searchsorted(indptr, limit, right=True)) - 1
        stop = min(targets, max(stop, start + 1))
        lo, hi = int(indptr[start]), int(indptr[stop])
        rows = torch.repeat_interleave(
            torch.arange(stop - start), indptr[start + 1 : stop + 1] - indptr[start:stop]
        )
        parts.append(x.new_zeros(stop - start, channels).index_add(0, rows, x[indices[lo:hi]]))
        start = stop
    out = torch.cat(parts) if parts else x.new_zeros(0, channels)
    return out / degree.clamp(min=1).unsqueeze(1)


class MeanAggregation(nn.Module):
    """The mean over neighbours as a layer (no parameters): ``(x_src, block) -> x_agg``."""

    def forward(self, x: torch.Tensor, block: Block) -> torch.Tensor:
        return mean_aggregate(x, block.indptr, block.indices)


class NodeMedianCenter(nn.Module):
    """Subtract the per-channel (lower) median over the nodes of the batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return x - x.sort(dim=0).values.narrow(0, (n - 1) // 2, 1)


class BinLinearBlock(nn.Module):
    """centre -> quantize -> linear without bias -> per-channel rescale -> optional PReLU.

    ``center`` and ``quantize`` are identities in layer 0 (real node features in);
    ``linear`` is a :class:`PointwiseConv` whose latent weights are clamped to [-1, 1]
    and used by sign when binary."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        binary_weights: bool,
        activations: str,
        balance: str,
        rescale: bool,
        inner_prelu: bool,
        bn_momentum: float,
    ):
        super().__init__()
        if balance == "bn":
            self.center: nn.Module = nn.BatchNorm1d(in_channels, momentum=bn_momentum)
        elif balance == "median":
            self.center = NodeMedianCenter()
        else:
            self.center = nn.Identity()
        quantizers = {"binary": Binarize, "tanh": nn.Tanh, "real": nn.Identity}
        self.quantize = quantizers[activations]()
        self.linear = PointwiseConv(in_channels, out_channels, binary_weights=binary_weights)
        self.rescale = LearnedScale(out_channels) if rescale else nn.Identity()
        self.activation = prelu() if inner_prelu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.rescale(self.linear(self.quantize(self.center(x)))))


class SageConv(nn.Module):
    """One GraphSAGE layer: ``lin_l(mean of the sources) + lin_r(the target itself)``."""

    def __init__(self, lin_l: nn.Module, lin_r: nn.Module):
        super().__init__()
        self.aggregate = MeanAggregation()
        self.lin_l = lin_l
        self.lin_r = lin_r

    def forward(self, x: torch.Tensor, block: Block) -> torch.Tensor:
        return self.lin_l(self.aggregate(x, block)) + self.lin_r(x[: block.num_targets])


class SAGE(nn.Module):
    """A stack of :class:`SageConv` layers with a nonlinearity and dropout between them.

    ``forward(x, blocks)`` takes one :class:`Block` per layer (the first layer's block
    first) and the features of the first block's sources; it returns the logits of the
    last block's targets."""

    def __init__(self, config: SageConfig):
        super().__init__()
        self.config = config
        self.convs = nn.ModuleList()
        self.between = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(config.widths()):
            self.convs.append(_conv(config, i, c_in, c_out))
            if i < config.layers - 1:
                self.between.append(_between(config))

    def layer(self, i: int, x: torch.Tensor, block: Block) -> torch.Tensor:
        """Layer ``i``, with what follows it (nonlinearity, dropout) unless it is the last."""
        x = self.convs[i](x, block)
        if i < self.config.layers - 1:
            x = self.between[i](x)
            x = F.dropout(x, p=self.config.dropout, training=self.training)
        return x

    def forward(self, x: torch.Tensor, blocks: list[Block]) -> torch.Tensor:
        if len(blocks) != self.config.layers:
            raise ValueError(f"{self.config.layers} layers need as many blocks, got {len(blocks)}")
        for i, block in enumerate(blocks):
            x = self.layer(i, x, block)
        return x

    @torch.no_grad()
    def inference(self, x: torch.Tensor, graph: Block) -> torch.Tensor:
        """Logits of every node, layer by layer over the whole graph (every neighbour)."""
        for i in range(self.config.layers):
            x = self.layer(i, x, graph)
        return x

    def clip_latent_weights_(self) -> None:
        for module in self.modules():
            if isinstance(module, PointwiseConv):
                module.clip_()


def _conv(config: SageConfig, i: int, c_in: int, c_out: int) -> SageConv:
    if not config.is_binary:
        lin_l = PointwiseConv(c_in, c_out, binary_weights=False, bias=True)
        lin_r = PointwiseConv(c_in, c_out, binary_weights=False)
        for linear in (
            lin_l,
            lin_r,
        ):  # PyG's Linear: kaiming-uniform (a=sqrt 5), bias U(±1/sqrt in)
            nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5))
        nn.init.uniform_(lin_l.bias, -1 / math.sqrt(c_in), 1 / math.sqrt(c_in))
        return SageConv(lin_l, lin_r)

    def block() -> BinLinearBlock:
        return BinLinearBlock(
            c_in,
            c_out,
            binary_weights=config.binary_weights,
            activations=config.activations if i > 0 else "real",
            balance=config.balance if i > 0 else "none",
            rescale=config.rescale,
            inner_prelu=config.inner_prelu,
            bn_momentum=config.bn_momentum,
        )

    return SageConv(block(), block())


def _between(config: SageConfig) -> nn.Module:
    name = "relu" if not config.is_binary else config.between
    return {"relu": nn.ReLU, "prelu": prelu, "none": nn.Identity}[name]()


def build_sage(config: SageConfig) -> SAGE:
    """A freshly initialised model for ``config`` (in training mode)."""
    return SAGE(config)
