"""Spreads, per-round ratios, interleaving order and run-count fitting (no timing)."""

from __future__ import annotations

import doctest

import pytest

from benchmarks import stats
from benchmarks.stats import Spread, interleaved, ratio_spread, runs_for


def test_doctests():
    assert doctest.testmod(stats).failed == 0


def test_spread_of_even_count_takes_the_mean_of_the_middle_two():
    s = Spread.of([4.0, 1.0, 3.0, 2.0])
    assert (s.min, s.median, s.max, s.n) == (1.0, 2.5, 4.0, 4)


def test_spread_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        Spread.of([])


def test_fmt_shows_the_range_only_for_repeated_measurements():
    assert Spread.of([2.0]).fmt(1, "x") == "2.0x"
    assert Spread.of([1.0, 2.0, 4.0]).fmt(2, "x") == "2.00x (1.00-4.00)"


def test_ratios_are_paired_by_round_not_medians_of_each_side():
    # round 1 is slow for both sides, round 2 fast for both: each round's ratio is 2
    s = ratio_spread([20.0, 2.0], [10.0, 1.0])
    assert (s.min, s.median, s.max) == (2.0, 2.0, 2.0)


def test_ratio_spread_rejects_unpaired_or_zero_denominators():
    with pytest.raises(ValueError):
        ratio_spread([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        ratio_spread([1.0], [0.0])


def test_interleaved_alternates_the_order_every_round():
    calls = []

    def side(name, value):
        def measure():
            calls.append(name)
            return value

        return measure

    values = interleaved([("a", side("a", 1)), ("b", side("b", 2)), ("c", side("c", 3))], 3)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert values == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [3.0] * 3}


def test_interleaved_needs_rounds_and_unique_names():
    with pytest.raises(ValueError):
        interleaved([("a", lambda: 1)], 0)
    with pytest.raises(ValueError):
        interleaved([("a", lambda: 1), ("a", lambda: 2)], 1)


@pytest.mark.parametrize(
    ("latency_ms", "budget_s", "expected"),
    [(1.0, 0.25, 250), (100.0, 0.25, 5), (0.001, 0.25, 400), (0.0, 0.25, 400), (10.0, 1.0, 100)],
)
def test_runs_for_fits_the_budget_within_bounds(latency_ms, budget_s, expected):
    assert runs_for(latency_ms, budget_s) == expected
