"""An in-memory point-cloud classification set and its batching with augmentation.

Point clouds are ``(S, P, 3)`` float32 and labels ``(S,)`` int64, the layout of the
ModelNet40 HDF5 files and of our synthetic set alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["PointCloudDataset", "augment"]


@dataclass(frozen=True)
class PointCloudDataset:
    points: np.ndarray  # (S, P, 3) float32
    labels: np.ndarray  # (S,) int64
    class_names: tuple[str, ...]
    source: str  # where it came from, for reports: "synthetic(seed=0, test)" or a path

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_points(self) -> int:
        return int(self.points.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, count: int) -> PointCloudDataset:
        """The first ``count`` samples (all of them if fewer)."""
        return PointCloudDataset(
            self.points[:count], self.labels[:count], self.class_names, self.source
        )

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        augmented: bool = False,
        rng: np.random.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(points, labels)`` batches; shuffling and augmentation draw from ``rng``."""
        rng = rng if rng is not None else np.random.default_rng(0)
        order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            pts = self.points[idx]
            if augmented:
                pts = augment(pts, rng)
            yield pts, self.labels[idx]


def augment(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """DGCNN's training augmentation: random anisotropic scale in [2/3, 3/2], shift in
    [-0.2, 0.2] per axis, Gaussian jitter (sigma 0.01, clipped at 0.02), and a random
    point order (so that nothing can learn from the order of points)."""
    b, p, _ = points.shape
    scale = rng.uniform(2.0 / 3.0, 1.5, size=(b, 1, 3))
    shift = rng.uniform(-0.2, 0.2, size=(b, 1, 3))
    jitter = np.clip(rng.normal(0.0, 0.01, size=points.shape), -0.02, 0.02)
    out = points * scale + shift + jitter
    perm = np.argsort(rng.random((b, p)), axis=1)
    return np.take_along_axis(out, perm[..., None], axis=1).astype(np.float32)
