"""Seeded paper-format state_dicts for the paper-compatibility test.

The fixture files ``fixtures/paper_<arch>.json`` hold, for one small configuration of
each architecture, the paper code's state_dict layout (key -> shape, in its order)
and the logits the paper's own code (mbahri/binary_gnn at 2d12a81, models in
``dgcnn/models_extended.py``, stage-3 settings: binary weights and activations)
computed for the weights and inputs made here from fixed seeds. The only change made
to the paper's code for that run: its k-NN selection used a stable sort (lower index
first on ties) instead of ``topk``, the tie rule bgnn-deploy defines; its distances
(``torch.cdist``, and C - X X^T for Hamming) were left as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).parent / "fixtures"


def seeded_value(key: str, shape: tuple[int, ...], seed: int, index: int) -> torch.Tensor:
    """A deterministic, plausible value for one state_dict entry (independent of torch's RNG)."""
    rng = np.random.default_rng([seed, index])
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.tensor(0, dtype=torch.int64)
    if leaf in ("running_var",):
        data = rng.uniform(0.5, 1.5, shape)
    elif leaf.startswith("scale_") or (leaf == "weight" and len(shape) == 1 and shape != (1,)):
        data = rng.uniform(0.5, 1.5, shape)  # BN gamma and learned scales
    elif leaf == "weight" and shape == (1,):
        data = rng.uniform(0.05, 0.4, shape)  # PReLU slope
    else:
        data = rng.normal(0.0, 0.5, shape)  # conv weights, BN beta, running means, biases
    return torch.tensor(data, dtype=torch.float32)


def seeded_state_dict(keys: dict[str, list[int]], seed: int) -> dict[str, torch.Tensor]:
    return {k: seeded_value(k, tuple(s), seed, i) for i, (k, s) in enumerate(keys.items())}


def seeded_points(batch: int, points: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (batch, points, 3)).astype(np.float32)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"paper_{name}.json").read_text())


def write_paper_checkpoint(path: Path, fx: dict, *, data_parallel: bool = True) -> Path:
    """Save the fixture's weights as the paper's code does (DataParallel state_dict)."""
    state = seeded_state_dict(fx["keys"], fx["weights_seed"])
    for key, value in fx["running_stats"].items():
        state[key] = torch.tensor(value, dtype=torch.float32)
    if data_parallel:
        state = {f"module.{k}": v for k, v in state.items()}
    torch.save(state, path)
    return path


def fixture_sizes(fx: dict) -> dict:
    """The sizes a user names on the command line for this fixture's checkpoint."""
    return {key: fx[key] for key in ("num_points", "k", "emb", "classes", "knn")}
