"""Statistics that say how far a measurement can be trusted: the stability verdict of a
model's timed runs and a bootstrap confidence interval for a speedup.

    >>> lo, hi = speedup_ci([10.0, 10.2, 9.9, 10.1] * 5, [2.0, 2.1, 1.9, 2.0] * 5)
    >>> 4.6 < lo <= 5.0 <= hi < 5.4
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_SAMPLES", "STABLE_CV", "speedup_ci", "stability"]

#: Timed runs whose spread (std / mean) is above this are marked unstable.
STABLE_CV = 0.10
#: Fewer timed runs than this cannot be judged.
MIN_SAMPLES = 5


def stability(cv: float | None, samples: int) -> tuple[bool, str]:
    """(stable, why): a verdict on one model's timed runs."""
    if samples < MIN_SAMPLES or cv is None:
        return False, f"too few runs to judge ({samples} < {MIN_SAMPLES})"
    if cv > STABLE_CV:
        return False, f"CV {cv:.0%} > {STABLE_CV:.0%}: re-run on a quiet board"
    return True, f"CV {cv:.1%}"


def speedup_ci(
    baseline_ms: Sequence[float],
    binary_ms: Sequence[float],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A percentile-bootstrap interval for median(baseline) / median(binary), each side's
    timed runs resampled with replacement; None with fewer than MIN_SAMPLES runs a side."""
    a, b = np.asarray(baseline_ms, np.float64), np.asarray(binary_ms, np.float64)
    if a.size < MIN_SAMPLES or b.size < MIN_SAMPLES or np.any(b <= 0):
        return None
    rng = np.random.default_rng(seed)
    ra = np.median(a[rng.integers(0, a.size, (resamples, a.size))], axis=1)
    rb = np.median(b[rng.integers(0, b.size, (resamples, b.size))], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(ra / rb, [tail, 100.0 - tail])
    return float(lo), float(hi)
