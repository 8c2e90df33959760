"""Synthetic point clouds sampled uniformly from the surfaces of simple 3-D shapes.

No data set can be downloaded where bgnn-deploy runs its demo and tests, so these
stand in for ModelNet40: same layout, several classes that differ only in geometry,
random proportions and heading per sample. Each sample is a pure function of
``(seed, split, index)``, so any subset is reproducible on its own.

    >>> ds = synthetic_dataset(16, num_points=128, seed=0, split="test")
    >>> ds.points.shape, ds.class_names[:3]
    ((16, 128, 3), ('sphere', 'torus', 'pyramid'))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bgnn_deploy.data.dataset import PointCloudDataset
from bgnn_deploy.errors import DataError

__all__ = ["SHAPES", "sample_shape", "synthetic_dataset"]

Sampler = Callable[[np.random.Generator, int], np.ndarray]
_SPLITS = {"train": 0, "test": 1}


def _sample_triangles(rng: np.random.Generator, n: int, verts: np.ndarray, faces) -> np.ndarray:
    """Uniform samples on a triangle mesh: faces chosen by area, then uniform barycentrics."""
    tri = verts[np.asarray(faces)]  # (F, 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    face = rng.choice(len(tri), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[face]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def _disk(rng: np.random.Generator, n: int, radius: float, z: float) -> np.ndarray:
    r = radius * np.sqrt(rng.random(n))
    a = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(a), r * np.sin(a), np.full(n, z)], axis=1)


def _split_counts(rng: np.random.Generator, n: int, areas: list[float]) -> np.ndarray:
    return rng.multinomial(n, np.asarray(areas) / sum(areas))


def _sphere(rng, n):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True) * rng.uniform(0.8, 1.2, size=3)


def _box(rng, n):
    a, b, c = rng.uniform(0.5, 1.5, size=3) / 2
    verts = np.array([[x, y, z] for x in (-a, a) for y in (-b, b) for z in (-c, c)])
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]  # fmt: skip
    return _sample_triangles(rng, n, verts, faces)


def _cylinder(rng, n):
    r, h = rng.uniform(0.3, 0.7), rng.uniform(0.8, 2.0)
    side, top, bottom = _split_counts(rng, n, [2 * np.pi * r * h, np.pi * r * r, np.pi * r * r])
    a = rng.uniform(0, 2 * np.pi, side)
    wall = np.stack([r * np.cos(a), r * np.sin(a), rng.uniform(-h / 2, h / 2, side)], axis=1)
    return np.concatenate([wall, _disk(rng, top, r, h / 2), _disk(rng, bottom, r, -h / 2)])


def _cone(rng, n):
    r, h = rng.uniform(0.4, 0.8), rng.uniform(0.8, 1.8)
    side, base = _split_counts(rng, n, [np.pi * r * np.hypot(r, h), np.pi * r * r])
    t = np.sqrt(rng.random(side))  # distance from the apex, uniform in area
    a = rng.uniform(0, 2 * np.pi, side)
    wall = np.stack([t * r * np.cos(a), t * r * np.sin(a), h / 2 - t * h], axis=1)
    return np.concatenate([wall, _disk(rng, base, r, -h / 2)])


def _torus(rng, n):
    big, small = rng.uniform(0.6, 1.0), rng.uniform(0.15, 0.35)
    # Rejection sampling of the tube angle: surface density grows with R + r cos(theta).
    theta = np.empty(0)
    while theta.size < n:
        cand = rng.uniform(0, 2 * np.pi, 2 * n)
        keep = rng.random(2 * n) < (big + small * np.cos(cand)) / (big + small)
        theta = np.concatenate([theta, cand[keep]])
    theta = theta[:n]
    phi = rng.uniform(0, 2 * np.pi, n)
    ring = big + small * np.cos(theta)
    return np.stack([ring * np.cos(phi), ring * np.sin(phi), small * np.sin(theta)], axis=1)


def _pyramid(rng, n):
    s, h = rng.uniform(0.4, 0.7), rng.uniform(0.8, 1.6)
    verts = np.array([[-s, -s, 0], [s, -s, 0], [s, s, 0], [-s, s, 0], [0, 0, h]])
    faces = [(0, 1, 2), (0, 2, 3), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)]
    return _sample_triangles(rng, n, verts, faces)


def _octahedron(rng, n):
    a, b, c = rng.uniform(0.6, 1.2, size=3)
    verts = np.array([[a, 0, 0], [-a, 0, 0], [0, b, 0], [0, -b, 0], [0, 0, c], [0, 0, -c]])
    faces = [(x, y, z) for x in (0, 1) for y in (2, 3) for z in (4, 5)]
    return _sample_triangles(rng, n, verts, faces)


def _bowl(rng, n):
    v = rng.normal(size=(n, 3))
    v[:, 2] = -np.abs(v[:, 2])  # open hemisphere
    return v / np.linalg.norm(v, axis=1, keepdims=True) * rng.uniform(0.8, 1.2)


# Ordered so that the first few (used when fewer classes are asked for) differ most.
SHAPES: dict[str, Sampler] = {
    "sphere": _sphere,
    "torus": _torus,
    "pyramid": _pyramid,
    "box": _box,
    "cylinder": _cylinder,
    "cone": _cone,
    "octahedron": _octahedron,
    "bowl": _bowl,
}


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Random yaw about the up (z) axis plus a small tilt: shapes stay upright, as the
    aligned ModelNet40 models are (DGCNN is not rotation invariant, nor meant to be)."""
    yaw = rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(-0.15, 0.15)
    cy, sy, ct, st = np.cos(yaw), np.sin(yaw), np.cos(tilt), np.sin(tilt)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, ct, -st], [0, st, ct]])
    return rz @ rx


def sample_shape(name: str, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """``num_points`` points on a randomly proportioned, turned ``name`` in the unit ball."""
    pts = SHAPES[name](rng, num_points) @ _random_rotation(rng).T
    pts = pts - pts.mean(axis=0)
    return (pts / np.linalg.norm(pts, axis=1).max()).astype(np.float32)


def synthetic_dataset(
    samples: int,
    *,
    num_points: int = 1024,
    classes: int = len(SHAPES),
    seed: int = 0,
    split: str = "train",
) -> PointCloudDataset:
    """A balanced set of ``samples`` clouds over the first ``classes`` shapes."""
    if not 2 <= classes <= len(SHAPES):
        raise DataError(f"the synthetic set has 2 to {len(SHAPES)} classes, not {classes}")
    if split not in _SPLITS:
        raise DataError(f"unknown split '{split}' (valid: train, test)")
    names = tuple(SHAPES)[:classes]
    points = np.empty((samples, num_points, 3), dtype=np.float32)
    labels = np.arange(samples, dtype=np.int64) % classes
    for i in range(samples):
        rng = np.random.default_rng([seed, _SPLITS[split], i])
        points[i] = sample_shape(names[labels[i]], num_points, rng)
    return PointCloudDataset(points, labels, names, f"synthetic(seed={seed}, {split})")
