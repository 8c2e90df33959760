"""Statistics that say how far a measurement can be trusted: latency statistics with
percentiles only where there are enough samples, the stability verdict of a model's timed
runs and of a speedup's rounds, and a bootstrap confidence interval for a speedup.

    >>> lo, hi = speedup_ci([[10.0, 10.2, 9.9, 10.1] * 5], [[2.0, 2.1, 1.9, 2.0] * 5])
    >>> 4.6 < lo <= 5.0 <= hi < 5.4
    True
    >>> summary = latency_summary([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> summary["median"], summary["p90"], summary["std"]
    (3.0, None, 1.5811388300841898)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "MIN_SAMPLES",
    "PERCENTILE_MIN_SAMPLES",
    "STABLE_CV",
    "latency_summary",
    "rounds_agree",
    "speedup_ci",
    "stability",
]

#: Timed runs whose spread (std / mean) is above this are marked unstable; so is a
#: speedup whose rounds' ratios spread more than this (std / mean).
STABLE_CV = 0.10
#: Fewer timed runs than this cannot be judged.
MIN_SAMPLES = 5
#: A percentile is reported only from at least this many timed runs: below that it is one
#: of the few slowest runs, not a tail.
PERCENTILE_MIN_SAMPLES = {"p90": 10, "p95": 20, "p99": 100}


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float | int | None]:
    """min, median, mean, std (n - 1), max, runs and the percentiles that
    :data:`PERCENTILE_MIN_SAMPLES` allows (None for the others); linear interpolation
    between order statistics, as the runner computes them."""
    x = np.sort(np.asarray(samples_ms, np.float64))
    if x.size == 0:
        raise ValueError("no timed runs")
    out: dict[str, float | int | None] = {
        "min": float(x[0]),
        "median": float(np.percentile(x, 50)),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "max": float(x[-1]),
        "runs": int(x.size),
    }
    for name, needed in PERCENTILE_MIN_SAMPLES.items():
        q = float(name[1:])
        out[name] = float(np.percentile(x, q)) if x.size >= needed else None
    return out


def stability(cv: float | None, samples: int) -> tuple[bool, str]:
    """(stable, why): a verdict on one model's timed runs."""
    if samples < MIN_SAMPLES:
        return False, f"too few runs to judge ({samples} < {MIN_SAMPLES})"
    if cv is None:
        return False, "no spread recorded to judge"
    if cv > STABLE_CV:
        return False, f"CV {cv:.0%} > {STABLE_CV:.0%}: re-run on a quiet board"
    return True, f"CV {cv:.1%}"


def rounds_agree(ratios: Sequence[float]) -> tuple[bool, str]:
    """(stable, why): do the speedups of the interleaved rounds agree? With fewer than
    three rounds there is nothing to compare, and the verdict is left to the runs'."""
    r = np.asarray(ratios, np.float64)
    if r.size < 3:
        return True, f"{r.size} round(s): not compared"
    spread = float(r.std(ddof=1) / r.mean()) if r.mean() > 0 else float("inf")
    if spread > STABLE_CV:
        return False, (
            f"the rounds disagree: {r.min():.2f}x to {r.max():.2f}x "
            f"(spread {spread:.0%} > {STABLE_CV:.0%}): re-run on a quiet board"
        )
    return True, f"{r.size} rounds agree within {spread:.1%}"


def speedup_ci(
    baseline_rounds: Sequence[Sequence[float]],
    binary_rounds: Sequence[Sequence[float]],
    *,
    level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """A percentile-bootstrap interval for median(baseline) / median(binary) over the
    pooled timed runs of each side.

    The bootstrap follows how the runs were taken: the rounds are resampled with
    replacement (paired: round i of both sides ran side by side), then the runs within
    each chosen round, so drift between rounds widens the interval as noise within a round
    does. With one round this is the plain bootstrap of the runs. None with fewer than
    :data:`MIN_SAMPLES` runs a side."""
    a = [np.asarray(r, np.float64) for r in baseline_rounds if len(r)]
    b = [np.asarray(r, np.float64) for r in binary_rounds if len(r)]
    if sum(x.size for x in a) < MIN_SAMPLES or sum(x.size for x in b) < MIN_SAMPLES:
        return None
    if any(np.any(x <= 0) for x in b):
        return None
    rng = np.random.default_rng(seed)
    paired = len(a) == len(b)
    ratios = np.empty(resamples)
    for i in range(resamples):
        pick_a = rng.integers(0, len(a), len(a))
        pick_b = pick_a if paired else rng.integers(0, len(b), len(b))
        ra = np.concatenate([rng.choice(a[j], a[j].size) for j in pick_a])
        rb = np.concatenate([rng.choice(b[j], b[j].size) for j in pick_b])
        ratios[i] = np.median(ra) / np.median(rb)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(ratios, [tail, 100.0 - tail])
    return float(lo), float(hi)
