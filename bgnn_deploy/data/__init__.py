"""Point-cloud data: synthetic shapes (always available) and ModelNet40 HDF5 files.

Graphs for node classification (the GraphSAGE family) are in :mod:`.graph` (the data
set), :mod:`.synthetic_graph`, :mod:`.ogb_nodeprop` and :mod:`.graph_source` (which of
the two, from the CLI's ``--data``).

>>> from bgnn_deploy.data import load_dataset
>>> load_dataset("synthetic", split="test", num_points=64, samples=8).points.shape
(8, 64, 3)
"""

from __future__ import annotations

import os

from bgnn_deploy.data.dataset import PointCloudDataset, augment
from bgnn_deploy.data.modelnet_h5 import load_modelnet_h5
from bgnn_deploy.data.synthetic import SHAPES, synthetic_dataset
from bgnn_deploy.errors import DataError

__all__ = ["SHAPES", "PointCloudDataset", "augment", "load_clouds", "load_dataset"]

# Default sizes of the synthetic splits (samples).
SYNTHETIC_SIZES = {"train": 1024, "test": 256}
# Bytes the synthetic generator holds per point at its peak (float64 draws, then float32).
_BYTES_PER_POINT = 3 * (8 + 8 + 4)


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _check_sizes(num_points: int, samples: int | None, classes: int | None) -> None:
    for name, value in (
        ("points per cloud", num_points),
        ("samples", samples),
        ("classes", classes),
    ):
        if value is not None and value < 1:
            raise DataError(f"{name} must be >= 1, got {value}")


def load_dataset(
    spec: str,
    *,
    split: str,
    num_points: int,
    samples: int | None = None,
    classes: int | None = None,
    seed: int = 0,
) -> PointCloudDataset:
    """``spec`` is ``synthetic`` or a path to a ModelNet40-format .h5 file or folder.

    ``samples`` limits (or, for synthetic data, sets) the number of clouds. ``classes``
    is the number of classes of the model the data is for: synthetic data uses that
    many shape classes (all 8 by default); a file's labels must all be below it.
    """
    _check_sizes(num_points, samples, classes)
    if spec == "synthetic":
        count = samples or SYNTHETIC_SIZES.get(split, 256)
        need, have = count * num_points * _BYTES_PER_POINT, _available_memory()
        if have is not None and need > have:
            raise DataError(
                f"{count} synthetic clouds of {num_points} points need about "
                f"{need / 2**30:.1f} GiB, but {have / 2**30:.1f} GiB of memory is available",
                hint="ask for fewer clouds (--samples) or points (--points)",
            )
        return synthetic_dataset(
            count,
            num_points=num_points,
            classes=classes or len(SHAPES),
            seed=seed,
            split=split,
        )
    data = load_modelnet_h5(spec, split=split, num_points=num_points)
    data = data.subset(samples) if samples else data
    if classes is not None and data.labels.size and int(data.labels.max()) >= classes:
        top = int(data.labels.max())
        raise DataError(
            f"{data.source} has labels up to {top}, but the model has {classes} classes",
            hint=f"use --classes {top + 1} or more",
        )
    return data


def load_clouds(spec: str, *, num_points: int, samples: int, classes: int, seed: int = 0):
    """Test clouds ``(samples, num_points, 3)`` to run a model on when labels do not
    matter (parity checks): synthetic data uses at most the 8 shape classes there are."""
    synthetic = spec == "synthetic"
    return load_dataset(
        spec,
        split="test",
        num_points=num_points,
        samples=samples,
        classes=min(classes, len(SHAPES)) if synthetic else None,
        seed=seed,
    ).points
