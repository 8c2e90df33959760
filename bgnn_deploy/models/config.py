"""The configuration that fully describes a reference model.

A ``ModelConfig`` travels inside every checkpoint we write, so a checkpoint alone is
enough to rebuild (and later convert) its network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bgnn_deploy.errors import ConfigError, unknown_name

ARCHITECTURES: dict[str, str] = {
    "dgcnn": "float DGCNN, the baseline",
    "bin-dgcnn-rf": "binary, real graph features",
    "bin-dgcnn-bf1": "binary features, BN before sign",
    "bin-dgcnn-bf2": "binary features, BN before max",
}

KNN_METRICS = ("l2", "hamming")
BALANCE_OPS = ("none", "mean", "median")
BALANCE_AXES = ("points", "channels")


# The widest layer a model may have (the runner's kernels take far more; memory does not).
MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and sizes of a (binary) DGCNN.

    Defaults are the paper's ModelNet40 network: 1024 points, k=20, EdgeConv widths
    64-64-128-256, a 1024-wide embedding, MLP 512-256 and 40 classes.

    ``knn`` is the metric of the k-NN in EdgeConv layers 2 and later of the BF
    variants (layer 1 always uses L2 on xyz; RF and float DGCNN always use L2).
    ``binary_weights`` / ``binary_activations`` choose which parts are binary (the
    paper's training stages switch them); ``binary_head_weights`` /
    ``binary_head_inputs`` do the same for the last classifier layer, float by default.
    ``balance`` centres the node features (mean or median over ``balance_axis``)
    before they are binarized, in the BF variants.
    """

    arch: str = "bin-dgcnn-bf1"
    num_points: int = 1024
    k: int = 20
    widths: tuple[int, ...] = (64, 64, 128, 256)
    emb: int = 1024
    mlp: tuple[int, ...] = (512, 256)
    classes: int = 40
    dropout: float = 0.5
    knn: str = "l2"
    binary_weights: bool = True
    binary_activations: bool = True
    binary_head_weights: bool = False
    binary_head_inputs: bool = False
    balance: str = "none"
    balance_axis: str = "points"
    rescale_points: bool = False
    rescale_neighbours: bool = False
    bn_momentum: float = 0.1
    extra: dict[str, Any] = field(default_factory=dict)

    family = "dgcnn"  # the model family (a class attribute, not a configuration field)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise unknown_name("architecture", self.arch, ARCHITECTURES)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "mlp", tuple(int(w) for w in self.mlp))
        if self.knn not in KNN_METRICS:
            raise unknown_name("k-NN metric", self.knn, KNN_METRICS)
        if self.balance not in BALANCE_OPS:
            raise unknown_name("balance function", self.balance, BALANCE_OPS)
        if self.balance_axis not in BALANCE_AXES:
            raise unknown_name("balance axis", self.balance_axis, BALANCE_AXES)
        for name in ("num_points", "k", "emb", "classes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.widths or min(self.widths) < 1:
            raise ConfigError(f"widths must be positive integers, got {list(self.widths)}")
        if self.mlp and min(self.mlp) < 1:
            raise ConfigError(f"mlp widths must be positive integers, got {list(self.mlp)}")
        widest = max((self.emb, self.classes, *self.widths, *self.mlp))
        if widest > MAX_WIDTH:
            raise ConfigError(
                f"layer widths, emb and classes must be <= {MAX_WIDTH}, got {widest}",
                hint="a width this large would not fit in memory or in the runner's kernels",
            )
        if self.k > self.num_points:
            raise ConfigError(
                f"k ({self.k}) cannot exceed the number of points ({self.num_points})"
            )
        if self.classes < 2:
            raise ConfigError(f"classes must be >= 2, got {self.classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.knn == "hamming" and self.arch in ("dgcnn", "bin-dgcnn-rf"):
            raise ConfigError(
                f"{self.arch} has real-valued node features: Hamming k-NN needs a BF variant",
                hint="use --arch bin-dgcnn-bf1 or bin-dgcnn-bf2 with --knn hamming",
            )

    @property
    def is_binary(self) -> bool:
        return self.arch != "dgcnn"

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["widths"] = list(self.widths)
        data["mlp"] = list(self.mlp)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild a config, rejecting unknown keys so a typo never goes unnoticed."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model configuration keys: {', '.join(unknown)}")
        return cls(**data)
