"""Point-cloud data: synthetic shapes (always available) and ModelNet40 HDF5 files.

>>> from bgnn_deploy.data import load_dataset
>>> load_dataset("synthetic", split="test", num_points=64, samples=8).points.shape
(8, 64, 3)
"""

from __future__ import annotations

from bgnn_deploy.data.dataset import PointCloudDataset, augment
from bgnn_deploy.data.modelnet_h5 import load_modelnet_h5
from bgnn_deploy.data.synthetic import SHAPES, synthetic_dataset

__all__ = ["SHAPES", "PointCloudDataset", "augment", "load_dataset"]

# Default sizes of the synthetic splits (samples).
SYNTHETIC_SIZES = {"train": 1024, "test": 256}


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

    ``samples`` limits (or, for synthetic data, sets) the number of clouds; ``classes``
    picks the number of synthetic shape classes (all by default).
    """
    if spec == "synthetic":
        return synthetic_dataset(
            samples or SYNTHETIC_SIZES.get(split, 256),
            num_points=num_points,
            classes=classes or len(SHAPES),
            seed=seed,
            split=split,
        )
    data = load_modelnet_h5(spec, split=split, num_points=num_points)
    return data.subset(samples) if samples else data
