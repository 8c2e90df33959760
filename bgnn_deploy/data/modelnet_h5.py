"""Reader for the ModelNet40 HDF5 files (``modelnet40_ply_hdf5_2048``).

Each file holds ``data`` (S, 2048, 3) float32 and ``label`` (S, 1) uint8; the folder
has ``ply_data_train*.h5``, ``ply_data_test*.h5`` and ``shape_names.txt``. The first
``num_points`` points of each cloud are used, as in DGCNN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bgnn_deploy.data.dataset import PointCloudDataset
from bgnn_deploy.errors import DataError

__all__ = ["load_modelnet_h5", "resolve_h5_files"]


def resolve_h5_files(path: Path, split: str) -> list[Path]:
    """A single .h5 file serves every split; a folder gives its ``ply_data_<split>*.h5``."""
    if not path.exists():
        raise DataError(f"data not found: {path}", hint="use --data synthetic or a ModelNet40 .h5")
    if path.is_file():
        return [path]
    files = sorted(path.glob(f"ply_data_{split}*.h5")) or sorted(path.glob(f"*{split}*.h5"))
    if not files:
        raise DataError(f"no {split} files (ply_data_{split}*.h5) in {path}")
    return files


def _read_file(path: Path, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [name for name in ("data", "label") if name not in f]
            if missing:
                raise DataError(
                    f"{path} lacks the dataset(s) {', '.join(missing)} "
                    "(expected ModelNet40 HDF5: 'data' (S, P, 3) and 'label' (S, 1))"
                )
            data, label = f["data"], f["label"]
            if data.ndim != 3 or data.shape[2] != 3:
                raise DataError(f"{path}: 'data' has shape {data.shape}, expected (S, P, 3)")
            if data.shape[1] < num_points:
                raise DataError(
                    f"{path} has {data.shape[1]} points per cloud, fewer than the "
                    f"{num_points} asked for",
                    hint=f"use --points {data.shape[1]} or fewer",
                )
            points = np.asarray(data[:, :num_points, :], dtype=np.float32)
            labels = np.asarray(label[:], dtype=np.int64).reshape(-1)
    except OSError as e:
        raise DataError(f"{path} is not a readable HDF5 file: {e}") from None
    if labels.shape[0] != points.shape[0]:
        raise DataError(f"{path}: {points.shape[0]} clouds but {labels.shape[0]} labels")
    return points, labels


def load_modelnet_h5(
    path: str | Path, *, split: str = "test", num_points: int = 1024
) -> PointCloudDataset:
    """Load one file, or a folder's split, of ModelNet40-format HDF5 data."""
    path = Path(path)
    parts = [_read_file(f, num_points) for f in resolve_h5_files(path, split)]
    points = np.concatenate([p for p, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    names_file = (path if path.is_dir() else path.parent) / "shape_names.txt"
    count = int(labels.max()) + 1 if labels.size else 0
    if names_file.is_file():
        names = tuple(line.strip() for line in names_file.read_text().splitlines() if line.strip())
    else:
        names = tuple(f"class{i}" for i in range(count))
    if count > len(names):
        names = names + tuple(f"class{i}" for i in range(len(names), count))
    return PointCloudDataset(points, labels, names, str(path))
