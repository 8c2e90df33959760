"""The configuration of a GraphSAGE node classifier: float ``sage`` and binary ``bin-sage``.

Like DGCNN's :class:`~bgnn_deploy.models.config.ModelConfig`, a ``SageConfig`` travels
inside every checkpoint we write (with ``"family": "sage"``), so a checkpoint alone
rebuilds its network. Defaults are the paper's ogbn-products network: 3 layers, hidden
256, 100 input features, 47 classes.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any

from bgnn_deploy.errors import ConfigError, unknown_name

SAGE_ARCHITECTURES: dict[str, str] = {
    "sage": "float GraphSAGE (mean aggregation), the baseline",
    "bin-sage": "binary GraphSAGE: BN + sign + binary linears, rescaled",
}

ACTIVATIONS = ("binary", "tanh", "real")  # what a block does to its input features
BETWEEN = ("none", "prelu", "relu")  # the nonlinearity between layers
SAGE_BALANCE = ("bn", "median", "none")  # how a block centres its input before the sign
MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class SageConfig:
    """Architecture and sizes of a (binary) GraphSAGE.

    Each layer is ``x'_i = lin_l(mean_{j in N(i)} x_j) + lin_r(x_i)``. In ``bin-sage``
    each linear is a block: centre (``balance``: BatchNorm with ``bn_momentum``, a median
    over the nodes, or nothing) -> input quantizer (``activations``: sign with a
    straight-through gradient, tanh, or none) -> linear without bias (±1 weights when
    ``binary_weights``) -> learned per-channel rescale (``rescale``) -> PReLU when
    ``inner_prelu``. Layer 0 takes the real node features as they are: no centring, no
    quantizer; its weights are binary when ``binary_weights`` (as the paper's).
    ``between`` is the nonlinearity after every layer but the last (the paper: none on
    ogbn-products, PReLU on ogbn-proteins). ``sage`` is PyTorch Geometric's SAGEConv
    stack: float linears (``lin_l`` with a bias), ReLU between layers.
    """

    arch: str = "bin-sage"
    in_channels: int = 100
    hidden: int = 256
    layers: int = 3
    classes: int = 47
    dropout: float = 0.5
    binary_weights: bool = True
    activations: str = "binary"
    between: str = "none"
    inner_prelu: bool = False
    rescale: bool = True
    balance: str = "bn"
    bn_momentum: float = 0.999
    extra: dict[str, Any] = field(default_factory=dict)

    family = "sage"

    def __post_init__(self) -> None:
        if self.arch not in SAGE_ARCHITECTURES:
            raise unknown_name("architecture", self.arch, SAGE_ARCHITECTURES)
        if self.activations not in ACTIVATIONS:
            raise unknown_name("activation quantizer", self.activations, ACTIVATIONS)
        if self.between not in BETWEEN:
            raise unknown_name("activation between layers", self.between, BETWEEN)
        if self.balance not in SAGE_BALANCE:
            raise unknown_name("balance function", self.balance, SAGE_BALANCE)
        for name in ("in_channels", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.classes < 2:
            raise ConfigError(f"classes must be >= 2, got {self.classes}")
        widest = max(self.in_channels, self.hidden, self.classes)
        if widest > MAX_WIDTH:
            raise ConfigError(f"layer widths and classes must be <= {MAX_WIDTH}, got {widest}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.bn_momentum <= 1.0:
            raise ConfigError(f"bn_momentum must be in [0, 1], got {self.bn_momentum}")

    @property
    def is_binary(self) -> bool:
        return self.arch != "sage"

    def widths(self) -> list[tuple[int, int]]:
        """(in, out) of each layer."""
        sizes = [self.in_channels] + [self.hidden] * (self.layers - 1) + [self.classes]
        return list(itertools.pairwise(sizes))

    def replace(self, **changes: Any) -> SageConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SageConfig:
        """Rebuild a config, rejecting unknown keys so a typo never goes unnoticed."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model configuration keys: {', '.join(unknown)}")
        return cls(**data)
