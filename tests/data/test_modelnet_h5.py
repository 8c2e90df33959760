"""The ModelNet40 HDF5 reader, on tiny files written in that format."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from bgnn_deploy.data import load_dataset
from bgnn_deploy.errors import DataError


def write_h5(path, clouds=5, points=20, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(clouds, points, 3)).astype(np.float32)
    label = (np.arange(clouds) % 3 if labels is None else labels).astype(np.uint8).reshape(-1, 1)
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
        f.create_dataset("label", data=label)
    return data, label


def test_single_file_first_points_and_labels(tmp_path):
    data, label = write_h5(tmp_path / "ply_data_test0.h5", points=20)
    ds = load_dataset(str(tmp_path / "ply_data_test0.h5"), split="test", num_points=12)
    np.testing.assert_array_equal(ds.points, data[:, :12])
    np.testing.assert_array_equal(ds.labels, label.reshape(-1).astype(np.int64))
    assert ds.labels.dtype == np.int64


def test_folder_splits_and_shape_names(tmp_path):
    write_h5(tmp_path / "ply_data_train0.h5", clouds=4, seed=1)
    write_h5(tmp_path / "ply_data_train1.h5", clouds=3, seed=2)
    write_h5(tmp_path / "ply_data_test0.h5", clouds=2, seed=3)
    (tmp_path / "shape_names.txt").write_text("airplane\nbathtub\nbed\n")
    train = load_dataset(str(tmp_path), split="train", num_points=10)
    test = load_dataset(str(tmp_path), split="test", num_points=10)
    assert len(train) == 7 and len(test) == 2
    assert train.class_names == ("airplane", "bathtub", "bed")


def test_samples_limit(tmp_path):
    write_h5(tmp_path / "a.h5", clouds=6)
    assert len(load_dataset(str(tmp_path / "a.h5"), split="test", num_points=5, samples=2)) == 2


def test_fewer_points_than_asked(tmp_path):
    write_h5(tmp_path / "a.h5", points=8)
    with pytest.raises(DataError, match="8 points per cloud, fewer than the 16"):
        load_dataset(str(tmp_path / "a.h5"), split="test", num_points=16)


def test_missing_datasets(tmp_path):
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("points", data=np.zeros((2, 4, 3)))
    with pytest.raises(DataError, match="lacks the dataset"):
        load_dataset(str(tmp_path / "bad.h5"), split="test", num_points=4)


def test_not_hdf5(tmp_path):
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        load_dataset(str(tmp_path / "junk.h5"), split="test", num_points=4)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="data not found"):
        load_dataset(str(tmp_path / "nothing"), split="test", num_points=4)
    with pytest.raises(DataError, match="no train files"):
        load_dataset(str(tmp_path), split="train", num_points=4)
