"""Reference PyTorch models: float DGCNN and the binary DGCNN variants of Bahri et al. 2021.

>>> from bgnn_deploy.models import ModelConfig, build_model, parameter_count
>>> parameter_count(build_model(ModelConfig(arch="dgcnn")))
1809320

The paper's code counts 256 more: its second hidden Linear has a bias that the
BatchNorm after it makes redundant; ours has none (paper checkpoints fold it in).
"""

from __future__ import annotations

from torch import nn

from bgnn_deploy.models.binary import PointwiseConv
from bgnn_deploy.models.config import ARCHITECTURES, ModelConfig
from bgnn_deploy.models.dgcnn import DGCNN, build_dgcnn

__all__ = [
    "ARCHITECTURES",
    "DGCNN",
    "ModelConfig",
    "binary_parameter_count",
    "build_model",
    "describe_architectures",
    "parameter_count",
]


def build_model(config: ModelConfig) -> DGCNN:
    """A freshly initialised model for ``config`` (in training mode)."""
    return build_dgcnn(config)


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def binary_parameter_count(model: nn.Module) -> int:
    """Weights that are ±1 in the forward pass (1 bit each once deployed)."""
    return sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, PointwiseConv) and m.binary_weights
    )


def describe_architectures(config: ModelConfig | None = None) -> list[dict]:
    """One row per architecture: parameters, binary weights and the deployed weight size
    (binary weights at 1 bit, everything else float32) at ``config``'s sizes."""
    base = config or ModelConfig()
    rows = []
    for arch, description in ARCHITECTURES.items():
        model = build_model(base.replace(arch=arch, knn="l2"))
        params = parameter_count(model)
        binary = binary_parameter_count(model)
        rows.append(
            {
                "arch": arch,
                "description": description,
                "parameters": params,
                "binary_parameters": binary,
                "deployed_weight_bytes": (params - binary) * 4 + (binary + 7) // 8,
            }
        )
    return rows
