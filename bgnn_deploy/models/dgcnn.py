"""DGCNN and its binary variants as one skeleton with per-variant layer recipes.

Every architecture is the same graph: four EdgeConv layers (k-NN -> edge features ->
per-edge MLP -> max over neighbours -> per-node post-processing), a pointwise
embedding of the concatenated node features, global max + average pooling, and an
MLP head. The variants differ only in what each stage's ``nn.Sequential`` holds, so a
converter can walk any of them the same way, module by module.

    >>> import torch
    >>> from bgnn_deploy.models import ModelConfig, build_model
    >>> model = build_model(ModelConfig(arch="bin-dgcnn-bf1", num_points=64, k=8, emb=64,
    ...                                 classes=5)).eval()
    >>> model(torch.randn(2, 64, 3)).shape
    torch.Size([2, 5])
"""

from __future__ import annotations

import torch
from torch import nn

from bgnn_deploy.models.binary import Binarize, Center, LearnedScale, PointwiseConv, prelu
from bgnn_deploy.models.config import ModelConfig
from bgnn_deploy.models.knn import edge_features, knn_indices

__all__ = ["DGCNN", "EdgeConv", "build_dgcnn"]


class EdgeConv(nn.Module):
    """One EdgeConv layer (Wang et al. 2019) with its k-NN built from its own input.

    ``metric`` is the k-NN distance ("l2" or "hamming"), ``edge_op`` how an edge's
    relative feature is formed ("sub" or "xor"), ``edge_mlp`` acts on every edge
    ``(B, 2C, N, k)`` and ``node_post`` on the max-pooled node features ``(B, C', N)``.
    """

    def __init__(
        self, k: int, metric: str, edge_op: str, edge_mlp: nn.Sequential, node_post: nn.Sequential
    ):
        super().__init__()
        self.k = k
        self.metric = metric
        self.edge_op = edge_op
        self.edge_mlp = edge_mlp
        self.node_post = node_post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = knn_indices(x.transpose(1, 2), self.k, self.metric)
        edges = self.edge_mlp(edge_features(x, idx, self.edge_op))
        return self.node_post(edges.max(dim=-1).values)

    def extra_repr(self) -> str:
        return f"k={self.k}, metric={self.metric}, edge_op={self.edge_op}"


class DGCNN(nn.Module):
    """The shared skeleton. Input: point clouds ``(B, N, 3)``; output: logits ``(B, classes)``."""

    def __init__(
        self,
        config: ModelConfig,
        edge_convs: list[EdgeConv],
        embed: nn.Sequential,
        head: nn.Sequential,
    ):
        super().__init__()
        self.config = config
        self.edge_convs = nn.ModuleList(edge_convs)
        self.embed = embed
        self.head = head

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        x = points.transpose(1, 2)
        nodes = []
        for layer in self.edge_convs:
            x = layer(x)
            nodes.append(x)
        x = self.embed(torch.cat(nodes, dim=1))
        x = torch.cat((x.amax(dim=-1), x.mean(dim=-1)), dim=1)
        return self.head(x)

    def clip_latent_weights_(self) -> None:
        """Keep binary layers' latent weights in [-1, 1]; call after each optimizer step."""
        for module in self.modules():
            if isinstance(module, PointwiseConv):
                module.clip_()


def _quantizer(binary: bool) -> nn.Module:
    return Binarize() if binary else nn.Identity()


def _float_layers(cfg: ModelConfig):
    def leaky() -> nn.Module:
        return nn.LeakyReLU(0.2)

    edge_convs, c_in = [], 3
    for width in cfg.widths:
        mlp = nn.Sequential(
            PointwiseConv(2 * c_in, width, binary_weights=False), nn.BatchNorm2d(width), leaky()
        )
        edge_convs.append(EdgeConv(cfg.k, "l2", "sub", mlp, nn.Sequential()))
        c_in = width
    embed = nn.Sequential(
        PointwiseConv(sum(cfg.widths), cfg.emb, binary_weights=False),
        nn.BatchNorm1d(cfg.emb),
        leaky(),
    )
    head, c_in = [], 2 * cfg.emb
    for width in cfg.mlp:
        head += [
            PointwiseConv(c_in, width, binary_weights=False),
            nn.BatchNorm1d(width),
            leaky(),
            nn.Dropout(cfg.dropout),
        ]
        c_in = width
    head.append(PointwiseConv(c_in, cfg.classes, binary_weights=False, bias=True))
    return edge_convs, embed, nn.Sequential(*head)


def _binary_head(cfg: ModelConfig) -> nn.Sequential:
    """BN -> sign -> binary linear -> rescale -> PReLU per hidden layer; the classifier
    keeps float weights and inputs unless the config binarizes them too."""
    m = cfg.bn_momentum
    layers: list[nn.Module] = []
    c_in = 2 * cfg.emb
    for width in cfg.mlp:
        layers += [
            nn.BatchNorm1d(c_in, momentum=m),
            _quantizer(cfg.binary_activations),
            PointwiseConv(c_in, width, binary_weights=cfg.binary_weights),
            LearnedScale(width),
            prelu(),
            nn.Dropout(cfg.dropout),
        ]
        c_in = width
    layers += [
        nn.BatchNorm1d(c_in, momentum=m),
        _quantizer(cfg.binary_head_inputs),
        PointwiseConv(c_in, cfg.classes, binary_weights=cfg.binary_head_weights),
        LearnedScale(cfg.classes),
    ]
    return nn.Sequential(*layers)


def _scale(cfg: ModelConfig, channels: int, *, edges: bool) -> LearnedScale:
    return LearnedScale(
        channels,
        points=cfg.num_points if cfg.rescale_points else 0,
        neighbours=cfg.k if (edges and cfg.rescale_neighbours) else 0,
    )


def _rf_layers(cfg: ModelConfig):
    """RF: real-valued graph features; every conv is BN -> sign -> binary conv -> rescale -> PReLU.

    The first layer's inputs (xyz edge features) stay real; its weights are binary.
    """
    m = cfg.bn_momentum
    edge_convs, c_in = [], 3
    for i, width in enumerate(cfg.widths):
        mlp = nn.Sequential(
            nn.BatchNorm2d(2 * c_in, momentum=m),
            _quantizer(cfg.binary_activations and i > 0),
            PointwiseConv(2 * c_in, width, binary_weights=cfg.binary_weights),
            _scale(cfg, width, edges=True),
            prelu(),
        )
        edge_convs.append(EdgeConv(cfg.k, "l2", "sub", mlp, nn.Sequential()))
        c_in = width
    embed = nn.Sequential(
        nn.BatchNorm1d(sum(cfg.widths), momentum=m),
        _quantizer(cfg.binary_activations),
        PointwiseConv(sum(cfg.widths), cfg.emb, binary_weights=cfg.binary_weights),
        _scale(cfg, cfg.emb, edges=False),
        prelu(),
    )
    return edge_convs, embed, _binary_head(cfg)


def _bf_layers(cfg: ModelConfig, *, bn_on_edges: bool):
    """BF1 / BF2: binary node features. Each layer: binary conv -> rescale -> PReLU ->
    [BN2d (BF2)] -> max over k -> [BN1d (BF1)] -> [balance] -> sign. Layers after the
    first build their k-NN in ``cfg.knn`` space and XOR their ±1 edge features."""
    m = cfg.bn_momentum
    binary = cfg.binary_activations
    edge_convs, c_in = [], 3
    for i, width in enumerate(cfg.widths):
        first = i == 0
        mlp = nn.Sequential(
            PointwiseConv(2 * c_in, width, binary_weights=cfg.binary_weights),
            _scale(cfg, width, edges=True),
            prelu(),
        )
        post = nn.Sequential()
        if bn_on_edges:
            mlp.append(nn.BatchNorm2d(width, momentum=m))
        else:
            post.append(nn.BatchNorm1d(width, momentum=m))
        if cfg.balance != "none":
            post.append(Center(cfg.balance, cfg.balance_axis))
        post.append(_quantizer(binary))
        metric = "l2" if first else cfg.knn
        edge_op = "xor" if (binary and not first) else "sub"
        edge_convs.append(EdgeConv(cfg.k, metric, edge_op, mlp, post))
        c_in = width
    embed = nn.Sequential(
        PointwiseConv(sum(cfg.widths), cfg.emb, binary_weights=cfg.binary_weights),
        _scale(cfg, cfg.emb, edges=False),
        prelu(),
        nn.BatchNorm1d(cfg.emb, momentum=m),
    )
    return edge_convs, embed, _binary_head(cfg)


def build_dgcnn(cfg: ModelConfig) -> DGCNN:
    """Build the network ``cfg.arch`` names, freshly initialised."""
    if cfg.arch == "dgcnn":
        parts = _float_layers(cfg)
    elif cfg.arch == "bin-dgcnn-rf":
        parts = _rf_layers(cfg)
    elif cfg.arch == "bin-dgcnn-bf1":
        parts = _bf_layers(cfg, bn_on_edges=False)
    elif cfg.arch == "bin-dgcnn-bf2":
        parts = _bf_layers(cfg, bn_on_edges=True)
    else:  # ModelConfig validates arch; this guards a new name added without a recipe.
        raise ValueError(f"no recipe for architecture {cfg.arch!r}")
    return DGCNN(cfg, *parts)
