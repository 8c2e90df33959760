"""Spreads, ratios and interleaved rounds: how every timed figure of the suite is taken.

This machine is shared and noisy, so a figure is never one number from one moment: the
two sides of a ratio run alternately in the same rounds (A B, then B A, ...), a ratio is
formed per round, and the report shows the spread of those ratios.

>>> Spread.of([3.0, 1.0, 2.0])
Spread(min=1.0, median=2.0, max=3.0, n=3)
>>> ratio_spread([4.0, 6.0], [2.0, 2.0]).median
2.5
>>> Spread.of([1.0, 2.0, 4.0]).fmt(1)
'2.0 (1.0-4.0)'
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Spread", "interleaved", "ratio_spread", "runs_for"]


@dataclass(frozen=True)
class Spread:
    """min / median / max of repeated measurements of one figure (n of them)."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one value")
        vals = sorted(float(v) for v in values)
        return cls(vals[0], statistics.median(vals), vals[-1], len(vals))

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        """``median (min-max)``; a single measurement is shown alone, since a range of
        one value would claim a stability nobody measured."""
        med = f"{self.median:.{digits}f}{unit}"
        if self.n == 1:
            return med
        return f"{med} ({self.min:.{digits}f}-{self.max:.{digits}f})"

    def relative_range(self) -> float:
        """(max - min) / median: the spread as a fraction of the figure."""
        return (self.max - self.min) / self.median if self.median else float("inf")

    def to_dict(self) -> dict:
        return {"min": self.min, "median": self.median, "max": self.max, "n": self.n}


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """Spread of per-round ratios: round i's numerator over round i's denominator.

    Pairing by round (instead of dividing two medians) keeps each ratio inside one
    stretch of machine load, which is what cancels the noise of a shared machine."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators but {len(denominators)} denominators")
    if any(d <= 0 for d in denominators):
        raise ValueError("a ratio's denominator must be positive")
    return Spread.of([n / d for n, d in zip(numerators, denominators, strict=True)])


def interleaved(
    sides: Sequence[tuple[str, Callable[[], float]]], rounds: int
) -> dict[str, list[float]]:
    """Call every side once per round, reversing the order every other round (A B C,
    C B A, A B C, ...), so a slow drift of the machine weighs on all sides alike.
    Returns each side's values in round order."""
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    names = [name for name, _ in sides]
    if len(set(names)) != len(names):
        raise ValueError(f"side names must be unique: {names}")
    values: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = sides if r % 2 == 0 else list(reversed(sides))
        for name, measure in order:
            values[name].append(float(measure()))
    return values


def runs_for(latency_ms: float, budget_s: float, *, lo: int = 5, hi: int = 400) -> int:
    """How many timed runs fit ``budget_s`` at ``latency_ms`` each, within [lo, hi]: short
    ops get many runs (a stable median), long ones few (the suite's time limit)."""
    if latency_ms <= 0:
        return hi
    return max(lo, min(hi, int(budget_s * 1e3 / latency_ms)))
