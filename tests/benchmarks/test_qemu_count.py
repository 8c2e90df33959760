"""The instruction-count plugin's output parser and the per-inference differencing."""

from __future__ import annotations

import doctest

import pytest

from benchmarks import qemu_count
from benchmarks.qemu_count import PLUGIN_SOURCE, parse_count, per_inference, step_for


def test_doctests():
    assert doctest.testmod(qemu_count).failed == 0


def test_parse_count_reads_the_insns_line_among_others():
    assert parse_count("plugin loaded\ninsns 172802006\n") == 172802006
    assert parse_count("  insns 7  \n") == 7


@pytest.mark.parametrize("text", ["", "insns\n", "insns many\n", "instructions 5\n"])
def test_parse_count_rejects_output_without_a_count(text):
    with pytest.raises(ValueError, match="insns"):
        parse_count(text)


def test_per_inference_differences_consecutive_invocations():
    totals = [119_669_498, 172_802_006, 225_933_656]
    assert per_inference(totals, [1, 2, 3]) == [53_132_508, 53_131_650]


def test_per_inference_divides_by_the_extra_runs():
    # start-up 1000 instructions, 40 per inference; invocations with 1, 101, 201 runs
    totals = [1000 + 40 * 2, 1000 + 40 * 102 + 3, 1000 + 40 * 202 - 1]
    assert per_inference(totals, [1, 101, 201]) == [40.03, 39.96]


def test_per_inference_needs_paired_growing_counts():
    with pytest.raises(ValueError):
        per_inference([5], [1])
    with pytest.raises(ValueError):
        per_inference([5, 6], [1])
    with pytest.raises(ValueError, match="did not grow"):
        per_inference([10, 10], [1, 2])


@pytest.mark.parametrize(
    ("estimate", "target", "step"),
    [(40_000, 1e8, 2500), (2e9, 1e8, 1), (1e8, 1e8, 1), (3e7, 1e8, 4)],
)
def test_step_puts_the_target_into_each_difference(estimate, target, step):
    assert step_for(estimate, target) == step


def test_plugin_declares_the_api_version_qemu_7_2_loads():
    source = PLUGIN_SOURCE.read_text()
    assert "int qemu_plugin_version = 1;" in source
    assert "qemu_plugin_install" in source
