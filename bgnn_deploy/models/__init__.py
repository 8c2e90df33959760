"""Reference PyTorch models of Bahri et al. 2021, in two families: DGCNN for point clouds
(float and three binary variants) and GraphSAGE for node classification (``sage``,
``bin-sage``). Each family has its configuration class and builder; ``FAMILIES`` maps an
architecture to its family.

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
from bgnn_deploy.models.sage import SAGE, build_sage
from bgnn_deploy.models.sage_config import SAGE_ARCHITECTURES, SageConfig

# architecture -> family; a family is a configuration class and a builder
FAMILIES: dict[str, str] = {
    **{arch: "dgcnn" for arch in ARCHITECTURES},
    **{arch: "sage" for arch in SAGE_ARCHITECTURES},
}

__all__ = [
    "ARCHITECTURES",
    "DGCNN",
    "FAMILIES",
    "SAGE",
    "SAGE_ARCHITECTURES",
    "ModelConfig",
    "SageConfig",
    "binary_parameter_count",
    "build_model",
    "describe_architectures",
    "parameter_count",
]


def build_model(config: ModelConfig | SageConfig) -> DGCNN | SAGE:
    """A freshly initialised model for ``config`` (in training mode)."""
    if isinstance(config, SageConfig):
        return build_sage(config)
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


def _row(arch: str, family: str, description: str, model) -> dict:
    params = parameter_count(model)
    binary = binary_parameter_count(model)
    return {
        "arch": arch,
        "family": family,
        "description": description,
        "parameters": params,
        "binary_parameters": binary,
        "deployed_weight_bytes": (params - binary) * 4 + (binary + 7) // 8,
    }


def describe_architectures(
    config: ModelConfig | None = None, sage_config: SageConfig | None = None
) -> list[dict]:
    """One row per architecture: parameters, binary weights and the deployed weight size
    (binary weights at 1 bit, everything else float32) at the given sizes (defaults: the
    paper's ModelNet40 DGCNN and ogbn-products GraphSAGE)."""
    base = config or ModelConfig()
    rows = [
        _row(arch, "dgcnn", text, build_model(base.replace(arch=arch, knn="l2")))
        for arch, text in ARCHITECTURES.items()
    ]
    sage = sage_config or SageConfig()
    rows += [
        _row(arch, "sage", text, build_model(sage.replace(arch=arch)))
        for arch, text in SAGE_ARCHITECTURES.items()
    ]
    return rows
