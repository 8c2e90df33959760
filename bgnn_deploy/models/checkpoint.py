"""Checkpoints: ours (weights + configuration in one file) and the paper's.

Our format is a ``torch.save`` of a plain dict, loadable with ``weights_only=True``
(no pickled code runs when a user opens a file someone sent them)::

    {"format": "bgnn-deploy", "version": 1, "config": {...ModelConfig...},
     "state_dict": {...}, "meta": {...training facts: data, epochs, accuracy...}}

    >>> from bgnn_deploy.models import ModelConfig, build_model
    >>> from bgnn_deploy.models.checkpoint import save_checkpoint, load_checkpoint
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.pt")
    >>> save_checkpoint(build_model(ModelConfig(num_points=32, k=4, emb=16, classes=3)), path)
    >>> load_checkpoint(path).config.arch
    'bin-dgcnn-bf1'
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bgnn_deploy.errors import CheckpointError, ConfigError
from bgnn_deploy.models.config import ModelConfig
from bgnn_deploy.models.dgcnn import DGCNN, build_dgcnn
from bgnn_deploy.models.paper_format import PAPER_MLP, PAPER_WIDTHS, load_paper_state_dict
from bgnn_deploy.models.sage import SAGE, build_sage
from bgnn_deploy.models.sage_config import SAGE_ARCHITECTURES, SageConfig
from bgnn_deploy.models.sage_paper_format import (
    find_state_dict,
    load_paper_sage,
    paper_sage_config,
)

__all__ = ["FORMAT", "LoadedModel", "load_checkpoint", "save_checkpoint"]

FORMAT = "bgnn-deploy"
VERSION = 1


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode) and where it came from; ``notes`` say what
    the user should know about the file (clamped weights, an ambiguous paper layout)."""

    model: DGCNN | SAGE
    config: ModelConfig | SageConfig
    source_format: str  # "bgnn-deploy" or "paper"
    meta: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def save_checkpoint(
    model: DGCNN | SAGE, path: str | os.PathLike, *, meta: dict | None = None
) -> None:
    """Write ``model`` with its configuration, atomically (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        # absent in DGCNN checkpoints (the first family), which stay as they were
        **({"family": "sage"} if isinstance(model, SAGE) else {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(f"model file not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"expected a model file, got a directory: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror}") from None
    except Exception as e:
        # Arbitrary bytes make torch.load fail in many ways (zip, pickle, KeyError in the
        # legacy unpickler, OSError on a cut zip): all mean "not a checkpoint we can read".
        text = str(e).strip()
        if "weights_only" in text:  # never pass on torch's advice to unpickle anything
            text = text.rpartition("WeightsUnpickler error:")[2].strip() or "not tensors"
        if "Unsupported global" in text:
            raise CheckpointError(
                f"{path} holds Python objects beyond tensors and plain containers (a whole "
                "pickled model or custom classes); bgnn-deploy reads weights only and never "
                "runs code from a model file",
                hint="save model.state_dict() instead (the paper's layout loads with --arch), "
                "or export the model with torch.onnx.export",
            ) from None
        first = text.splitlines()[0] if text else type(e).__name__
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated or another format?): {first}"
        ) from None


def _clamp_latent_weights(model: DGCNN | SAGE) -> tuple[str, ...]:
    """Clamp the latent weights of binary layers to [-1, 1], as the binary forward pass of
    training (ours, and the paper's in place) keeps them: their signs, so the binary model,
    are unchanged; the float baseline, which uses the latent values, then sees what
    training did. A note says how many were outside."""
    from bgnn_deploy.models.binary import PointwiseConv

    outside = total = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, PointwiseConv) and module.binary_weights:
                total += module.weight.numel()
                outside += int((module.weight.abs() > 1).sum())
                module.clip_()
    if not outside:
        return ()
    return (
        f"{outside} of {total} latent binary weights were outside [-1, 1] and were clamped, "
        "as the binary forward pass does: the binary model is unchanged, the float baseline "
        "uses the clamped values",
    )


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def load_checkpoint(
    path: str | os.PathLike,
    *,
    arch: str | None = None,
    sizes: dict[str, Any] | None = None,
) -> LoadedModel:
    """Load a model for inference from our checkpoint or a paper-format state_dict.

    ``arch`` and ``sizes`` (``num_points``, ``k``, ``emb``, ``classes``, ``knn``, ...)
    describe a paper checkpoint, which carries no configuration. For our checkpoints
    ``arch`` may be given as a check; ``sizes`` may override run-time sizes such as
    ``num_points`` (DGCNN works on any number of points).
    """
    path = Path(path)
    obj = _read(path)
    sizes = {k: v for k, v in (sizes or {}).items() if v is not None}

    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        if obj.get("version") != VERSION:
            raise CheckpointError(
                f"{path} has checkpoint version {obj.get('version')}; "
                f"this bgnn-deploy reads {VERSION}"
            )
        family = obj.get("family", "dgcnn")
        if family not in ("dgcnn", "sage"):
            raise CheckpointError(f"{path} holds a model of family '{family}', unknown here")
        config_type = SageConfig if family == "sage" else ModelConfig
        try:
            config = config_type.from_dict(obj["config"])
            state = obj["state_dict"]
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{path} is a damaged bgnn-deploy checkpoint: {e}") from None
        if arch is not None and arch != config.arch:
            raise CheckpointError(
                f"{path} holds a {config.arch} model, not {arch}",
                hint="drop --arch: our checkpoints carry their architecture",
            )
        if sizes and family == "dgcnn":
            config = config.replace(**sizes)
        model = build_sage(config) if family == "sage" else build_dgcnn(config)
        result = model.load_state_dict(state, strict=False)
        bad = list(result.missing_keys) + list(result.unexpected_keys)
        if bad:
            raise CheckpointError(f"{path} does not fit its own configuration: {', '.join(bad)}")
        notes = _clamp_latent_weights(model)
        return LoadedModel(model.eval(), config, FORMAT, dict(obj.get("meta") or {}), notes)

    if arch in SAGE_ARCHITECTURES:
        state = find_state_dict(obj)
        if state is None:
            raise CheckpointError(f"{path} holds no state_dict of the paper's {arch}")
        flags = {k: v for k, v in sizes.items() if k in ("binary_weights", "activations")}
        model = load_paper_sage(state, paper_sage_config(state, arch, **flags))
        notes = _clamp_latent_weights(model)
        if model.config.is_binary:
            notes += (
                "the paper's file does not say which parts its training stage binarized: it "
                f"was read with binary weights {model.config.binary_weights} and activations "
                f"'{model.config.activations}'",
            )
        return LoadedModel(model.eval(), model.config, "paper", {}, notes)

    if _is_state_dict(obj):
        if arch is None:
            raise CheckpointError(
                f"{path} is a plain state_dict (the paper's format) with no configuration",
                hint="name its architecture and sizes, e.g. --arch bin-dgcnn-bf1 --k 20 --emb 1024",
            )
        try:
            config = ModelConfig(arch=arch, widths=PAPER_WIDTHS, mlp=PAPER_MLP, **sizes)
        except TypeError as e:
            raise ConfigError(str(e)) from None
        model = build_dgcnn(config)
        load_paper_state_dict(model, obj, config)
        notes = _clamp_latent_weights(model)
        if arch in ("bin-dgcnn-bf1", "bin-dgcnn-bf2"):
            other = "bin-dgcnn-bf2" if arch == "bin-dgcnn-bf1" else "bin-dgcnn-bf1"
            notes += (
                f"the paper's BF1 and BF2 checkpoints have the same keys and shapes: nothing in "
                f"the file says it is {arch} and not {other}, so it was read as --arch says; "
                "`evaluate --compare-logits` against your own code's logits tells them apart",
            )
        return LoadedModel(model.eval(), config, "paper", {}, notes)

    raise CheckpointError(f"{path} is a PyTorch file but not a model checkpoint")
