"""Synthetic point clouds: deterministic, balanced, normalised; augmentation as documented."""

from __future__ import annotations

import numpy as np
import pytest

from bgnn_deploy.data import SHAPES, augment, load_dataset
from bgnn_deploy.data.synthetic import synthetic_dataset
from bgnn_deploy.errors import DataError


def test_same_seed_same_data_and_subsets_agree():
    a = synthetic_dataset(16, num_points=64, seed=3)
    b = synthetic_dataset(16, num_points=64, seed=3)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(synthetic_dataset(4, num_points=64, seed=3).points, a.points[:4])


def test_seed_and_split_change_the_data():
    a = synthetic_dataset(8, num_points=64, seed=0)
    assert not np.allclose(a.points, synthetic_dataset(8, num_points=64, seed=1).points)
    assert not np.allclose(a.points, synthetic_dataset(8, num_points=64, split="test").points)


def test_layout_balance_and_normalisation():
    ds = synthetic_dataset(40, num_points=128, classes=5)
    assert ds.points.shape == (40, 128, 3) and ds.points.dtype == np.float32
    assert ds.labels.dtype == np.int64
    assert np.bincount(ds.labels).tolist() == [8] * 5
    assert ds.class_names == tuple(SHAPES)[:5]
    radius = np.linalg.norm(ds.points, axis=2)
    np.testing.assert_allclose(radius.max(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(ds.points.mean(axis=1), 0.0, atol=1e-5)


def test_points_lie_on_the_surface():
    rng = np.random.default_rng(0)
    from bgnn_deploy.data.synthetic import _sphere, _torus

    sphere = _sphere(rng, 500)
    # An axis-scaled sphere: points satisfy (x/a)^2 + ... = 1 for some a, b, c; check the
    # unscaled shape instead through the torus equation and the sphere's spread.
    assert np.ptp(np.linalg.norm(sphere, axis=1)) < 0.5
    torus = _torus(rng, 500)
    ring = np.hypot(torus[:, 0], torus[:, 1])
    tube = np.hypot(ring - np.median(ring), torus[:, 2])
    assert np.ptp(tube) < 0.75


def test_too_many_classes():
    with pytest.raises(DataError, match="2 to 8 classes"):
        synthetic_dataset(4, classes=41)


def test_load_dataset_defaults():
    ds = load_dataset("synthetic", split="test", num_points=32)
    assert len(ds) == 256 and ds.num_points == 32


def test_augment_bounds_and_permutation():
    rng = np.random.default_rng(0)
    pts = np.zeros((4, 50, 3), dtype=np.float32)
    pts[:, :, 0] = np.linspace(-1, 1, 50)
    out = augment(pts, rng)
    assert out.shape == pts.shape and out.dtype == np.float32
    # y and z are 0 before: after augmentation only shift (<= 0.2) and jitter (<= 0.02).
    assert np.abs(out[:, :, 1:]).max() <= 0.2 + 0.02 + 1e-6
    # x is scaled by [2/3, 3/2] and shifted: its range is 2 * scale.
    span = np.ptp(out[:, :, 0], axis=1)
    assert ((span >= 2 * 2 / 3 - 0.05) & (span <= 2 * 1.5 + 0.05)).all()
    # order is shuffled
    assert not np.all(np.diff(out[0, :, 0]) > 0)
