"""Markdown rendering and goal judgement from a results dict (no measuring)."""

from __future__ import annotations

import doctest

import pytest

from benchmarks import goals, report
from benchmarks.goals import evaluate_goals, judge
from benchmarks.report import counted_layers, markdown_table, paper_table


def spread(median, lo=None, hi=None, n=3):
    return {
        "min": lo if lo is not None else median,
        "median": median,
        "max": hi if hi is not None else median,
        "n": n,
    }


def test_doctests():
    assert doctest.testmod(goals).failed == 0
    assert doctest.testmod(report).failed == 0


def test_markdown_table_escapes_pipes_and_checks_widths():
    table = markdown_table(["a", "b"], [["x|y", 2]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 2 |"]
    with pytest.raises(ValueError, match="columns"):
        markdown_table(["a", "b"], [[1]])


def test_judge_both_directions_and_boundaries():
    assert judge(2.0, 2.0) == "MET"
    assert judge(1.99, 2.0) == "NOT MET"
    assert judge(1.0, 1.0, higher_is_better=False) == "MET"
    assert judge(1.01, 1.0, higher_is_better=False) == "NOT MET"


def layer(name, speedup, lce):
    return (
        {"shape": {"name": name, "group": "dgcnn"}, "speedup": spread(speedup)},
        {"shape": {"name": name, "group": "dgcnn"}, "speedup_vs_lce": spread(lce)},
    )


def minimal_results(**extra):
    a, la = layer("EdgeConv 1", 3.0, 12.0)
    b, lb = layer("EdgeConv 2", 1.5, 11.0)
    sweep = {"shape": {"name": "sweep", "group": "sweep"}, "speedup": spread(0.1)}
    return {
        "errors": {},
        "layers": [a, b, sweep],
        "lce": [la, lb],
        "knn": [{"vs_faiss": spread(1.2), "vs_builtin": spread(4.0)}],
        **extra,
    }


def test_a_goal_over_shapes_needs_every_shape_and_ignores_the_sweep():
    rows = evaluate_goals(minimal_results())
    first = next(r for r in rows if r["item"] == "1")
    assert first["status"] == "NOT MET" and "1 of 2 meet it" in first["measured"]
    third = next(r for r in rows if r["item"] == "3")
    assert third["status"] == "MET" and "2 of 2" in third["measured"]
    faiss, builtin = [r for r in rows if r["item"] == "4"]
    assert (faiss["status"], builtin["status"]) == ("MET", "NOT MET")


def test_missing_sections_are_not_measured_with_the_reason():
    rows = evaluate_goals({"errors": {"end to end paper": "RunnerError: boom"}})
    e2e = next(r for r in rows if r["item"] == "2")
    assert e2e["status"] == "NOT MEASURED" and "boom" in e2e["measured"]
    deploy = next(r for r in rows if r["item"] == "7")
    assert deploy["status"] == "NOT MEASURED" and "not run" in deploy["measured"]


def test_two_threads_refused_by_the_runner_is_not_measured_on_the_host():
    host = {
        "speedup_vs_dgcnn": {"fused": spread(4.5, 4.2, 4.9)},
        "two_threads": {"measured": False, "reason": "the LiteRt glue runs one thread"},
    }
    results = minimal_results(
        endtoend={"paper": host},
        emulated={"paper": {"threads": {"2": {"speedup_vs_dgcnn": spread(3.0)}}}},
    )
    one, two = [r for r in evaluate_goals(results) if r["item"] == "2"]
    assert one["status"] == "MET" and "4.50x (4.20-4.90)" in one["measured"]
    assert two["status"] == "NOT MEASURED"
    assert "one thread" in two["measured"] and "emulated" in two["measured"]


def test_count_stability_and_size_and_deploy_goals():
    results = minimal_results(
        counts={
            "jobs": [
                {"relative_difference": 2e-6, "median": 5e8},
                {"relative_difference": 9e-6, "median": 3e7},
                {"relative_difference": 3e-2, "median": 4e4, "name": "layer/MLP"},
            ]
        },
        endtoend={
            "demo": {
                "speedup_vs_dgcnn": {"fused": spread(1.5)},
                "two_threads": {"measured": False, "reason": "x"},
            }
        },
        sizes={"demo": {"float_over_binary": {"bf2_float/fused": 13.6}}},
        deploy={"overhead_s": {"cached": spread(0.4, 0.3, 0.5)}},
    )
    rows = {r["item"]: r for r in evaluate_goals(results)}
    assert rows["5"]["status"] == "MET" and "0.00090%" in rows["5"]["measured"]
    assert "1 smaller ones vary by up to 3.000% (layer/MLP" in rows["5"]["measured"]
    assert rows["6"]["status"] == "NOT MET" and "1/13.6" in rows["6"]["measured"]
    assert "(demo size)" in rows["6"]["measured"]
    assert rows["7"]["status"] == "MET"


def test_paper_table_and_counted_layers_use_this_runs_counts():
    results = minimal_results(
        endtoend={
            "paper": {"relative_time_vs_dgcnn": {"fused": spread(0.5), "builtin": spread(0.9)}}
        },
        counts={
            "jobs": [
                {"name": "paper/dgcnn_float", "median": 1000},
                {"name": "paper/fused", "median": 250},
                {"name": "paper/builtin", "median": 500},
                {"name": "layer/EdgeConv 1/binary", "median": 10},
                {"name": "layer/EdgeConv 1/float", "median": 40},
            ]
        },
    )
    table = {r["model"]: r for r in paper_table(results)}
    assert table["BF + Hamming k-NN"]["counted"]["median"] == 0.25
    assert table["BF"]["counted"]["median"] == 0.5
    assert table["BF"]["paper"]["median"] == 0.68
    assert table["float DGCNN"]["host"]["median"] == 1.0
    (only,) = counted_layers(results)
    assert only["name"] == "EdgeConv 1" and only["counted"] == 4.0
