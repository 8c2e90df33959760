"""Load checkpoints written by the paper's code (mbahri/binary_gnn) into our models.

The paper saves ``torch.save(nn.DataParallel(model).state_dict())``: every key starts
with ``module.``, and the file holds no configuration, so the architecture and its
sizes come from the user. Its models fix the EdgeConv widths (64-64-128-256) and the
MLP (512-256); number of points, k, embedding size, classes and the k-NN metric vary.

The mapping below is explicit, tensor by tensor, so that a checkpoint that does not
fit its architecture fails with the names of the tensors that do not fit. Two
parameters are folded rather than copied, both exact in inference:

- the paper's scalar ``scale_b`` / ``scale_c`` rescale factors (per point / per
  neighbour, of size 1 unless trained with ``--bin_rescale_H/W``) multiply into the
  per-channel scale;
- the float DGCNN's ``linear2.bias``, which feeds a BatchNorm, moves into that
  BatchNorm's running mean (BN(x + b) uses mean - b).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from bgnn_deploy.errors import CheckpointError
from bgnn_deploy.models.config import ModelConfig

__all__ = ["PAPER_MLP", "PAPER_WIDTHS", "load_paper_state_dict", "paper_key_map"]

PAPER_WIDTHS = (64, 64, 128, 256)
PAPER_MLP = (512, 256)
_BN_KEYS = ("weight", "bias", "running_mean", "running_var")

# (paper module, our module, kind); kinds: bn, conv (float: `weight`, `bias`),
# binconv (binary layers' latent `weights_real`), scale, prelu
Entry = tuple[str, str, str]


def _binary_head_map() -> list[Entry]:
    """The paper's three BinLinearBlockBN layers -> our head (6 modules per hidden layer)."""
    out: list[Entry] = []
    for j, name in enumerate(("linear1", "linear2", "linear3")):
        base = 6 * j
        out += [
            (f"{name}.center", f"head.{base}", "bn"),
            (f"{name}.core_op", f"head.{base + 2}", "binconv"),
            (f"{name}.rescale", f"head.{base + 3}", "scale"),
        ]
        if name != "linear3":
            out.append((f"{name}.activ", f"head.{base + 4}", "prelu"))
    return out


def paper_key_map(arch: str) -> list[Entry]:
    """Which paper module becomes which of ours, for one architecture."""
    out: list[Entry] = []
    if arch == "dgcnn":
        for i in range(4):
            out += [
                (f"conv{i + 1}.0", f"edge_convs.{i}.edge_mlp.0", "conv"),
                (f"bn{i + 1}", f"edge_convs.{i}.edge_mlp.1", "bn"),
            ]
        out += [
            ("conv5.0", "embed.0", "conv"),
            ("bn5", "embed.1", "bn"),
            ("linear1", "head.0", "conv"),
            ("bn6", "head.1", "bn"),
            ("linear2", "head.4", "conv"),
            ("bn7", "head.5", "bn"),
            ("linear3", "head.8", "conv"),
        ]
        return out
    if arch == "bin-dgcnn-rf":
        for i in range(4):
            p, o = f"conv{i + 1}", f"edge_convs.{i}.edge_mlp"
            out += [
                (f"{p}.center", f"{o}.0", "bn"),
                (f"{p}.core_op", f"{o}.2", "binconv"),
                (f"{p}.rescale", f"{o}.3", "scale"),
                (f"{p}.activ", f"{o}.4", "prelu"),
            ]
        out += [
            ("conv5.center", "embed.0", "bn"),
            ("conv5.core_op", "embed.2", "binconv"),
            ("conv5.rescale", "embed.3", "scale"),
            ("conv5.activ", "embed.4", "prelu"),
        ]
        return out + _binary_head_map()
    if arch in ("bin-dgcnn-bf1", "bin-dgcnn-bf2"):
        for i in range(4):
            p, o = f"conv{i + 1}", f"edge_convs.{i}"
            bn = f"{o}.edge_mlp.3" if arch == "bin-dgcnn-bf2" else f"{o}.node_post.0"
            out += [
                (f"{p}.0", f"{o}.edge_mlp.0", "binconv"),
                (f"{p}.1", f"{o}.edge_mlp.1", "scale"),
                (f"{p}.2", f"{o}.edge_mlp.2", "prelu"),
                (f"bn{i + 1}", bn, "bn"),
            ]
        out += [
            ("conv5.0", "embed.0", "binconv"),
            ("conv5.1", "embed.1", "scale"),
            ("conv5.2", "embed.2", "prelu"),
            ("bn5", "embed.3", "bn"),
        ]
        return out + _binary_head_map()
    raise CheckpointError(f"no paper-format mapping for architecture '{arch}'")


def _strip_module_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _tensor_pairs(
    paper: str,
    ours: str,
    kind: str,
    state: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
) -> list[tuple[str, str]]:
    """(paper key, our key) pairs of one mapped module."""
    if kind == "bn":
        return [(f"{paper}.{k}", f"{ours}.{k}") for k in _BN_KEYS]
    if kind == "prelu":
        return [(f"{paper}.weight", f"{ours}.weight")]
    if kind == "binconv":
        return [(f"{paper}.weights_real", f"{ours}.weight")]
    if kind == "conv":
        pairs = [(f"{paper}.weight", f"{ours}.weight")]
        if f"{ours}.bias" in target or f"{paper}.bias" in state:
            pairs.append((f"{paper}.bias", f"{ours}.bias"))
        return pairs
    if kind == "scale":
        return [
            (f"{paper}.scale_a", f"{ours}.channel"),
            (f"{paper}.scale_b", f"{ours}.point"),
            (f"{paper}.scale_c", f"{ours}.neighbour"),
        ]
    raise ValueError(kind)


def load_paper_state_dict(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], config: ModelConfig
) -> None:
    """Copy a paper-format state_dict into ``model`` (built from ``config``), in place.

    Raises :class:`CheckpointError` naming every missing, unexpected or mis-shaped tensor.
    """
    state = _strip_module_prefix(state)
    target = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    mismatched: list[str] = []
    folds: list[tuple[str, torch.Tensor]] = []  # (our channel-scale key, factor)

    for paper, ours, kind in paper_key_map(config.arch):
        for pkey, okey in _tensor_pairs(paper, ours, kind, state, target):
            if pkey not in state:
                if kind == "scale" and okey not in target:
                    continue  # an absent size-1 factor folds to 1
                if okey.endswith(".bias") and kind == "conv" and okey not in target:
                    continue
                missing.append(pkey)
                continue
            used.add(pkey)
            value = state[pkey]
            if okey not in target:
                if kind == "scale" and value.numel() == 1:
                    folds.append((f"{ours}.channel", value.reshape(())))
                    continue
                if kind == "conv" and okey.endswith(".bias"):
                    # float DGCNN's linear2.bias: absorbed by the following BatchNorm.
                    bn = _following_bn(config, ours)
                    folds.append((f"{bn}.running_mean", -value))
                    continue
                mismatched.append(f"{pkey} {tuple(value.shape)} has no place in {config.arch}")
                continue
            want = target[okey]
            if value.numel() != want.numel():
                mismatched.append(f"{pkey} {tuple(value.shape)} != expected {tuple(want.shape)}")
                continue
            new[okey] = value.detach().to(want.dtype).reshape(want.shape).clone()

    # BatchNorm batch counters and the float DGCNN's second name for its BNs are not needed.
    ignorable = {k for k in state if k.endswith("num_batches_tracked")}
    if config.arch == "dgcnn":
        ignorable |= {k for k in state if k.split(".")[0].startswith("conv") and ".1." in k}
    unexpected = sorted(set(state) - used - ignorable)
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append("mis-shaped: " + "; ".join(mismatched))
        if missing:
            parts.append("missing: " + ", ".join(sorted(missing)))
        if unexpected:
            parts.append("unexpected: " + ", ".join(unexpected))
        raise CheckpointError(
            f"checkpoint does not fit {config.arch} "
            f"(points={config.num_points}, k={config.k}, emb={config.emb}, "
            f"classes={config.classes}): " + " | ".join(parts),
            hint="check --arch and the sizes (--emb, --classes, --k, --points) it was trained with",
        )

    for key, factor in folds:
        if key.endswith("running_mean"):
            new[key] = new[key] + factor
        else:
            new[key] = new[key] * factor
    for key, value in target.items():
        if key.endswith("num_batches_tracked"):
            new[key] = value
    model.load_state_dict(new, strict=True)


def _following_bn(config: ModelConfig, conv_path: str) -> str:
    """The BatchNorm that follows a float head linear layer (``head.i`` -> ``head.i+1``)."""
    prefix, index = conv_path.rsplit(".", 1)
    return f"{prefix}.{int(index) + 1}"
