"""The whole networks the suite measures, made with our own converter.

Benchmarks measure speed, not accuracy, so the networks are untrained but correctly
shaped, with their BatchNorm statistics taken from 16 synthetic clouds (default
statistics would leave almost every binary feature at +1, a degenerate Hamming k-NN).
Each is converted exactly as ``bgnn-deploy convert`` does it (``convert_checkpoint``,
the library call behind that command), with its parity check on one cloud:

- ``paper``: BinDGCNN BF2 with Hamming k-NN at the paper's sizes (1024 points, k=20,
  EdgeConv 64-64-128-256, embedding 1024, MLP 512-256, 40 classes), converted with the
  builtin k-NN, with the fused ``BgnnHammingKnn`` op (``--knn fused``) and with our
  bit-domain ops (``--fuse``: the first BgnnEdgeConv with its own L2 k-NN, then
  BgnnHammingKnn on packed features and BgnnEdgeConv, BgnnEmbedPool, then LCE's head);
  and the float DGCNN (``dgcnn``) at the same sizes, the paper's baseline.
- ``demo``: the same at ``make demo``'s sizes (256 points, k=10).

Conversions are cached under ``out/bench/models`` by a hash of the configuration and of
the converter's and models' sources, so a second run reuses them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SIZES", "NetworkSet", "prepare_networks"]

ROOT = Path(__file__).resolve().parent.parent

SIZES: dict[str, dict] = {
    "paper": {
        "num_points": 1024,
        "k": 20,
        "widths": (64, 64, 128, 256),
        "emb": 1024,
        "mlp": (512, 256),
        "classes": 40,
    },
    "demo": {
        "num_points": 256,
        "k": 10,
        "widths": (32, 32, 64, 128),
        "emb": 256,
        "mlp": (256, 128),
        "classes": 8,
    },
}


@dataclass(frozen=True)
class NetworkSet:
    """One size's converted files: binary with builtin and fused k-NN and with our fused
    ops (``convert --fuse``), the same network in float (``float.tflite`` beside the
    binary one) and the float DGCNN; and the binary checkpoint they came from."""

    size: str
    binary_builtin: Path
    binary_fused: Path
    bf2_float: Path
    dgcnn_float: Path
    config: dict
    binary_fuse: Path
    checkpoint: Path


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for folder in (ROOT / "converters", ROOT / "bgnn_deploy" / "models"):
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _calibrated_checkpoint(path: Path, arch: str, knn: str, sizes: dict, seed: int = 0) -> None:
    """Untrained weights; BatchNorm statistics averaged over 16 synthetic clouds."""
    import torch

    from bgnn_deploy.models import ModelConfig, build_model
    from bgnn_deploy.models.calibration import calibrate_on_synthetic
    from bgnn_deploy.models.checkpoint import save_checkpoint

    config = ModelConfig(arch=arch, knn=knn, **sizes)
    torch.manual_seed(seed)
    model = build_model(config)
    calibrate_on_synthetic(model, config.num_points, config.classes, seed=seed)
    save_checkpoint(model, path, meta={"untrained": True, "bn_calibration": "16 synthetic"})


def prepare_networks(
    size: str, work: Path, say: Callable[[str], None] = lambda _m: None
) -> NetworkSet:
    """Checkpoints and conversions for ``size`` (``paper`` or ``demo``), made or reused."""
    from bgnn_deploy.converters.convert import convert_checkpoint

    sizes = SIZES[size]
    key = hashlib.sha256(
        json.dumps({"size": sizes, "src": _sources_digest()}, sort_keys=True).encode()
    ).hexdigest()[:12]
    folder = work / "models" / f"{size}-{key}"
    done = folder / "done.json"
    nets = NetworkSet(
        size,
        folder / "bf2-builtin" / "binary.tflite",
        folder / "bf2-fused" / "binary.tflite",
        folder / "bf2-builtin" / "float.tflite",
        folder / "dgcnn" / "float.tflite",
        {**sizes, "widths": list(sizes["widths"]), "mlp": list(sizes["mlp"])},
        folder / "bf2-fuse" / "binary.tflite",
        folder / "bin-dgcnn-bf2.pt",
    )
    if done.is_file():
        say(f"{size} networks: reusing {folder}")
        return nets
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for arch, knn in (("bin-dgcnn-bf2", "hamming"), ("dgcnn", "l2")):
        say(f"{size} networks: untrained {arch} checkpoint (BatchNorm calibrated)")
        _calibrated_checkpoint(folder / f"{arch}.pt", arch, knn, sizes)
    for name, source, knn, fuse in (
        ("bf2-builtin", "bin-dgcnn-bf2", "builtin", False),
        ("bf2-fused", "bin-dgcnn-bf2", "fused", False),
        ("bf2-fuse", "bin-dgcnn-bf2", "fused", True),
        ("dgcnn", "dgcnn", "builtin", False),
    ):
        flags = "--fuse" if fuse else f"--knn {knn}"
        say(f"{size} networks: bgnn-deploy convert {source}.pt {flags}")
        convert_checkpoint(folder / f"{source}.pt", folder / name, knn=knn, samples=1, fuse=fuse)
    done.write_text(json.dumps({"sizes": nets.config}))
    return nets
