"""Load GraphSAGE checkpoints written by the paper's code (mbahri/binary_gnn) into ours.

The paper's ogbn scripts save PyTorch state_dicts of PyTorch Geometric modules, with
no configuration:

- its binary ``BinSAGE`` (``convs.{i}.lin_l`` / ``lin_r`` are ``BinLinearBlock``:
  ``center`` BatchNorm (layers 1+), ``lin.weights_real`` latent weights, ``rescale``
  with a scalar ``scale_a`` (1, 1) and per-channel ``scale_b`` (1, out); the
  ogbn-proteins model adds ``activs.{i}.weight`` PReLUs between layers);
- its float ``SAGE`` teacher, PyG ``SAGEConv`` layers (``lin_l.weight``,
  ``lin_l.bias``, ``lin_r.weight``).

The sizes (input features, hidden width, classes, layers) are read from the tensor
shapes. What the file cannot say is which parts its training stage binarized: the
stage flags come from the user (the fully binary third stage by default). The two
rescale factors multiply into our one per-channel scale (exact in inference). The
distillation script saves ``(best_val_acc, state_dict, test_acc)`` tuples: the
state_dict inside is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from bgnn_deploy.errors import CheckpointError
from bgnn_deploy.models.sage import SAGE, build_sage
from bgnn_deploy.models.sage_config import SageConfig

__all__ = ["find_state_dict", "load_paper_sage", "paper_sage_config"]

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def find_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    """The state_dict in ``obj``: itself, or the one state_dict of a tuple or list."""

    def is_sd(o: Any) -> bool:
        return (
            isinstance(o, dict)
            and bool(o)
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in o.items())
        )

    if is_sd(obj):
        found = obj
    elif isinstance(obj, tuple | list):
        dicts = [o for o in obj if is_sd(o)]
        if len(dicts) != 1:
            return None
        found = dicts[0]
    else:
        return None
    return {k.removeprefix("module."): v for k, v in found.items()}


def _layers(state: Mapping[str, torch.Tensor]) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(r"convs\.(\d+)\.", k))}
    if not found or found != set(range(max(found) + 1)):
        raise CheckpointError("the file has no GraphSAGE layers (convs.0, convs.1, ...)")
    return max(found) + 1


def paper_sage_config(state: Mapping[str, torch.Tensor], arch: str, **flags: Any) -> SageConfig:
    """Our configuration of the paper's network in ``state``; ``flags`` set what the file
    cannot tell (``binary_weights``, ``activations``, ``dropout``...)."""
    layers = _layers(state)
    binary = arch != "sage"
    weight = "lin.weights_real" if binary else "weight"
    key0, key_last = f"convs.0.lin_l.{weight}", f"convs.{layers - 1}.lin_l.{weight}"
    if key0 not in state or key_last not in state:
        other = "sage" if binary else "bin-sage"
        raise CheckpointError(
            f"the file has no '{key0}': not the paper's {arch}",
            hint=f"if it is the paper's {other}, use --arch {other}",
        )
    hidden, in_channels = state[key0].shape
    classes = state[key_last].shape[0]
    if layers == 1:
        hidden = 256
    sizes: dict[str, Any] = dict(
        arch=arch,
        in_channels=int(in_channels),
        hidden=int(hidden),
        layers=layers,
        classes=int(classes),
    )
    if binary:
        sizes["balance"] = "bn" if any(".center.running_mean" in k for k in state) else "none"
        sizes["between"] = "prelu" if any(k.startswith("activs.") for k in state) else "none"
        sizes["inner_prelu"] = any(".lin_l.activ.weight" in k for k in state)
        sizes["rescale"] = any(".rescale.scale_b" in k for k in state)
    return SageConfig(**{**sizes, **flags})


def _copy(ours: dict[str, torch.Tensor], name: str, value: torch.Tensor, used: set) -> None:
    if name not in ours:
        raise CheckpointError(f"the paper's tensor for '{name}' has no place in our model")
    if tuple(ours[name].shape) != tuple(value.shape):
        raise CheckpointError(
            f"'{name}' has shape {list(value.shape)} in the file, {list(ours[name].shape)} "
            "in the model"
        )
    ours[name] = value.detach().clone().to(ours[name].dtype)
    used.add(name)


def load_paper_sage(state: Mapping[str, torch.Tensor], config: SageConfig) -> SAGE:
    """Our model for ``config`` with the paper's weights from ``state`` (tensor by tensor;
    a tensor left over or missing is an error naming it)."""
    model = build_sage(config)
    ours = dict(model.state_dict())
    used: set[str] = set()
    taken: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"the paper's checkpoint has no '{key}'")
        taken.add(key)
        return state[key]

    for i in range(config.layers):
        for side in ("lin_l", "lin_r"):
            src, dst = f"convs.{i}.{side}", f"convs.{i}.{side}"
            if not config.is_binary:
                _copy(ours, f"{dst}.weight", take(f"{src}.weight"), used)
                if side == "lin_l":
                    _copy(ours, f"{dst}.bias", take(f"{src}.bias"), used)
                continue
            _copy(ours, f"{dst}.linear.weight", take(f"{src}.lin.weights_real"), used)
            if config.rescale:
                a, b = take(f"{src}.rescale.scale_a"), take(f"{src}.rescale.scale_b")
                _copy(ours, f"{dst}.rescale.channel", (a * b).reshape(-1), used)
            if i > 0 and config.balance == "bn":
                for name in _BN:
                    _copy(ours, f"{dst}.center.{name}", take(f"{src}.center.{name}"), used)
            if config.inner_prelu:
                _copy(ours, f"{dst}.activation.weight", take(f"{src}.activ.weight"), used)
        if config.is_binary and config.between == "prelu" and i < config.layers - 1:
            _copy(ours, f"between.{i}.weight", take(f"activs.{i}.weight"), used)
    left = sorted(set(state) - taken)
    if left:
        raise CheckpointError(f"tensors of the paper's checkpoint were not used: {', '.join(left)}")
    missing = sorted(set(ours) - used)
    if missing:
        raise CheckpointError(f"the paper's checkpoint leaves these unset: {', '.join(missing)}")
    model.load_state_dict(ours)
    return model
