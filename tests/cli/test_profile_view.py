"""The terminal view of an op profile (run --profile-ops) at 80 columns."""

from __future__ import annotations

from rich.console import Console

from bgnn_deploy.cli.profile_view import profile_table


def _render(measurements, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(profile_table(measurements))
    return console.export_text().splitlines()


def test_op_types_and_the_slowest_nodes_fit_80_columns(profiled_measurements):
    lines = _render(profiled_measurements)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    # every figure whole: the op totals and the slowest node, sorted by time
    binary = profiled_measurements[0].result
    for name in ("CONV_2D", "LceBconv2d"):
        assert f"{binary.ops[name].ms_per_run:.3f}" in text
    assert "2345.678" in text and "6000.0" not in text
    first = lines.index(next(line for line in lines if "slowest" in line))
    assert "2345.678" in lines[first + 4]  # a blank line, header, rule, the slowest node
    # a long name wraps, none of it lost
    row = next(i for i, line in enumerate(lines) if line.split()[:1] == ["#12"])
    name = lines[row].split()[1:-3] + lines[row + 1].split()
    assert " ".join(name) == profiled_measurements[0].result.nodes[12].op
    assert "the 10 slowest of 14 nodes" in text and "4 more" in text
    assert "EMULATED" in lines[0] and "tflite-telemetry" in text
    assert "k0.0" not in text  # the delegate's 0.5 ms op is not among the slowest 10


def test_shares_add_up_to_the_mean(profiled_measurements):
    lines = _render(profiled_measurements[:1], width=120)
    op_rows = lines[: lines.index(next(line for line in lines if "slowest" in line))]
    shares = [float(w[:-1]) for line in op_rows for w in line.split() if w.endswith("%")]
    assert len(shares) == 5 and abs(sum(shares) - 100) < 0.3


def test_a_profile_without_nodes_says_why(profiled_measurements):
    text = "\n".join(_render(profiled_measurements[1:]))
    assert "no per-node profile: no profiler in this library" in text
    assert "builtin (LiteRT)" in text and "3.500" in text and "slowest" not in text
