"""Issue 11's goals, their profiles and tables, from hand-made results dicts (no measuring)."""

from __future__ import annotations

import doctest

from benchmarks import fused
from benchmarks.fused import executed_macs, network_macs
from benchmarks.goals import density_rows, evaluate_goals, profile_text
from benchmarks.report import _emulated, _fused_ops, _threads, goals_table, paper_table
from benchmarks.suite import _two_threads_summary


def spread(median, lo=None, hi=None, n=3):
    return {
        "min": lo if lo is not None else median,
        "median": median,
        "max": hi if hi is not None else median,
        "n": n,
    }


def ops(**ms):
    return {name: {"ms_per_run": v} for name, v in ms.items()}


def goals_of(results: dict) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for g in evaluate_goals({"errors": {}, **results}):
        if g["issue"] == 11:
            rows.setdefault(g["item"], []).append(g)
    return rows


def host(fuse_speedup: float, **extra) -> dict:
    return {
        "ms": {"fuse": [10.0, 11.0], "dgcnn_float": [70.0, 72.0]},
        "speedup_vs_dgcnn": {"fuse": spread(fuse_speedup), "fused": spread(1.8)},
        "fuse_ops_profile": ops(BgnnEdgeConv=6.0, BgnnHammingKnn=3.0, LceQuantize=0.0001),
        **extra,
    }


def test_doctests():
    assert doctest.testmod(fused).failed == 0


def test_edgeconv_mac_counts_network_and_executed():
    # paper EdgeConv 4: 1024 points, k=20, 128 -> 256
    assert network_macs(1024, 20, 128, 256) == 1024 * 20 * 256 * 256
    assert executed_macs(1024, 20, 128, 256) == 1024 * 20 * 256 * 128 + 1024 * 256 * 128


def test_profile_text_orders_by_time_and_folds_tiny_ops():
    text = profile_text(ops(A=1.0, B=3.0, C=0.001, D=0.0))
    assert text == "B 3.00 ms (75%), A 1.00 ms (25%), 2 other ops 0.00 ms"
    assert profile_text({}) == "no op profile"


def test_end_to_end_goal_is_judged_at_the_paper_size_and_explained_when_not_met():
    rows = goals_of({"endtoend": {"paper": host(5.2), "demo": host(3.5)}})
    (row,) = rows["11.1"]
    assert row["status"] == "NOT MET" and row["label"] == "host"
    assert row["measured"].startswith("5.20x") and "demo size 3.50x" in row["measured"]
    assert "BgnnEdgeConv 6.00 ms (67%)" in row["profile"]
    assert "10.50 ms per inference vs float DGCNN 71.00 ms" in row["profile"]
    (met,) = goals_of({"endtoend": {"paper": host(6.5)}})["11.1"]
    assert met["status"] == "MET" and met["profile"] is None


def test_missing_figures_are_not_measured_with_the_reason():
    rows = goals_of({"errors": {"threads paper": "RunnerError: x"}})
    assert all(g["status"] == "NOT MEASURED" for gs in rows.values() for g in gs)
    assert len(rows) == 6 and len(rows["11.5"]) == 2


def test_counted_goal_uses_this_runs_counts_and_the_single_op_shares():
    results = {
        "endtoend": {"paper": host(5.0)},
        "counts": {
            "jobs": [
                {"name": "paper/dgcnn_float", "median": 2e9},
                {"name": "paper/fuse", "median": 4e8},
                {"name": "op/EdgeConv 4: 128->256/fused", "median": 1e8},
            ]
        },
        "fused_ops": {
            "size": "paper",
            "layers": [
                {
                    "name": "EdgeConv 4: 128->256",
                    "binary_input": True,
                    "network_macs": 1,
                    "executed_macs": 1,
                    "n": 1,
                    "k": 1,
                    "cin": 128,
                    "cout": 256,
                    "speedup": spread(12.0),
                    "fused_ms": [1.0],
                    "float_ms": [12.0],
                }
            ],
        },
        "emulated": {"paper": {"fuse_ops_profile": {"1": ops(BgnnEdgeConv=500.0)}}},
    }
    (row,) = goals_of(results)["11.2"]
    assert row["status"] == "NOT MET" and row["measured"].startswith("5.00x")
    assert "EdgeConv 4: 128->256 25%" in row["profile"]
    assert "EMULATED op split" in row["profile"]


def density_results(network: float, executed: float) -> dict:
    layer = {
        "name": "EdgeConv 3: 64->128",
        "binary_input": True,
        "n": 1024,
        "k": 20,
        "cin": 64,
        "cout": 128,
        "network_macs": int(network * 1e6),
        "executed_macs": int(executed * 1e6),
        "speedup": spread(11.0),
        "fused_ms": [1.0],
        "float_ms": [11.0],
    }
    first = {**layer, "name": "EdgeConv 1: 3->64", "binary_input": False, "cin": 3}
    return {
        "fused_ops": {
            "size": "paper",
            "layers": [first, layer],
            "embed": {
                "n": 1024,
                "channels_in": [64, 64, 128, 256],
                "channels_out": 1024,
                "macs": int(40e6),
            },
        },
        "counts": {
            "jobs": [
                {"name": "op/EdgeConv 3: 64->128/fused", "median": 1e6},
                {"name": "op/Embedding 512->1024/fused", "median": 1e6},
            ]
        },
    }


def test_density_is_judged_on_the_executed_macs_and_reports_both():
    rows = density_rows(density_results(network=40.0, executed=25.0))
    assert [r["op"] for r in rows] == ["BgnnEdgeConv", "BgnnEmbedPool"]  # no float layer 1
    assert rows[0]["density_network"] == 40.0 and rows[0]["density_executed"] == 25.0
    (row,) = goals_of(density_results(network=40.0, executed=25.0))["11.4"]
    assert row["status"] == "NOT MET" and "1 of 2 meet it" in row["measured"]
    assert "(network MACs: 40.0)" in row["measured"]
    assert "EdgeConv 3: 64->128 (BgnnEdgeConv)" in row["profile"]
    assert "Embedding" not in row["profile"]  # it meets the goal (40 MACs per instruction)
    (met,) = goals_of(density_results(network=60.0, executed=31.0))["11.4"]
    assert met["status"] == "MET"


def test_knn_goals_compare_like_for_like_forms():
    knn = [
        {
            "n": 1024,
            "c": 64,
            "ours_ms": [1.0],
            "packed_ms": [0.5],
            "builtin_ms": [9.0],
            "faiss_ms": [1.5],
            "vs_builtin": spread(9.0),
            "packed_vs_builtin": spread(18.0),
            "vs_faiss": spread(1.5),
            "packed_vs_faiss": spread(3.0),
        }
    ]
    builtin, faiss = goals_of({"knn": knn})["11.5"]
    assert builtin["status"] == "NOT MET" and builtin["measured"].startswith("float-input form")
    assert "the other form 18.00x" in builtin["measured"]
    assert "ours 1.000 ms vs the builtin graph 9.000 ms" in builtin["profile"]
    assert faiss["status"] == "MET" and faiss["measured"].startswith("packed-input form")


def threads(scaling: float) -> dict:
    return {
        "measured": True,
        "reason": None,
        "ms": {
            "fuse@1": [10.0],
            "fuse@2": [10.0 / scaling],
            "fused@2": [30.0],
            "dgcnn_float@1": [70.0],
            "dgcnn_float@2": [40.0],
        },
        "fuse_scaling": spread(scaling),
        "dgcnn_float_scaling": spread(1.75),
        "speedup_vs_dgcnn": {"fuse": spread(6.0), "fused": spread(1.33)},
        "fuse_ops_profile": {
            "1": ops(BgnnEdgeConv=6.0, BgnnL2Knn=2.0),
            "2": ops(BgnnEdgeConv=3.0, BgnnL2Knn=2.0),
        },
    }


def test_threads_goal_judged_with_the_per_op_scaling_as_its_profile():
    emulated = {
        "paper": {
            "threads": {
                "1": {"scaling": {"fuse": spread(1.0)}},
                "2": {"scaling": {"fuse": spread(1.9)}},
            }
        }
    }
    (row,) = goals_of({"threads": {"paper": threads(1.5)}, "emulated": emulated})["11.6"]
    assert row["status"] == "NOT MET" and row["label"] == "host / emulated"
    assert "2 threads 1.90x" in row["measured"]
    assert (
        "BgnnEdgeConv 6.00 -> 3.00 ms (2.00x), BgnnL2Knn 2.00 -> 2.00 ms (1.00x)"
        in (row["profile"])
    )
    assert "1 other processes" not in row["profile"]
    busy = {**threads(1.1), "others_busy_cores": 0.93, "cores": 2}
    (loaded,) = goals_of({"threads": {"paper": busy}})["11.6"]
    assert loaded["profile"].startswith("other processes kept 0.93 cores busy")
    assert "kept 0.93 of the 2 cores busy" in _threads("paper", busy)
    (met,) = goals_of({"threads": {"paper": threads(1.8)}})["11.6"]
    assert met["status"] == "MET"


def test_threads_refused_by_the_runner_is_not_measured_with_its_message():
    refused = {"measured": False, "reason": "the LiteRt glue runs one thread (asked for 2)"}
    (row,) = goals_of({"threads": {"paper": refused}})["11.6"]
    assert row["status"] == "NOT MEASURED" and "asked for 2" in row["measured"]
    assert _two_threads_summary(refused) == {"measured": False, "reason": refused["reason"]}
    assert "not measurable" in _threads("paper", refused)


def test_issue_7_two_thread_goal_reads_the_threads_section():
    summary = _two_threads_summary(threads(1.8))
    assert summary["speedup_vs_dgcnn"]["median"] == 1.33
    assert set(summary["ms"]) == {"fuse@2", "fused@2", "dgcnn_float@2"}


def test_goals_table_splits_issues_and_lists_why_not_met():
    goals = evaluate_goals({"errors": {}, "endtoend": {"paper": host(5.0)}})
    text = goals_table(goals, 11)
    assert "| 11.1 |" in text and "| 1 |" not in text
    assert "- **11.1** fused-ops model (paper size)" in text
    assert "| 11.1 |" not in goals_table(goals, 7) and "| 7 |" in goals_table(goals, 7)


def test_paper_table_gains_the_fused_ops_row_without_a_paper_figure():
    results = {
        "endtoend": {
            "paper": {
                "relative_time_vs_dgcnn": {
                    "fused": spread(0.5),
                    "builtin": spread(0.9),
                    "fuse": spread(0.15),
                }
            }
        },
        "counts": {
            "jobs": [
                {"name": "paper/dgcnn_float", "median": 1000},
                {"name": "paper/fuse", "median": 80},
            ]
        },
    }
    rows = {r["model"]: r for r in paper_table(results)}
    fuse = rows["BF + Hamming k-NN, our fused ops (`--fuse`)"]
    assert fuse["paper"] is None and fuse["host"]["median"] == 0.15
    assert fuse["counted"]["median"] == 0.08
    assert rows["BF"]["counted"] is None  # not counted in this results dict


def test_fused_ops_and_emulated_tables_render():
    results = density_results(network=40.0, executed=25.0)
    text = _fused_ops(results)
    assert "| EdgeConv 3: 64->128 | [1, 1024, 2] int32 (packed) |" in text
    assert "| EdgeConv 1: 3->64 | [1, 1024, 3] float32 |" in text
    assert "Binary GEMM density" in text and "| 40.0 | 25.0 |" in text
    assert _fused_ops({"errors": {"fused ops": "boom"}}) == "Not measured: boom"
    assert "COUNTED float/fused" not in text  # no float EdgeConv counted
    results["counts"]["jobs"].append({"name": "op/EdgeConv 3: 64->128/float", "median": 9e6})
    assert "(11.00-11.00) | 9.00x |" in _fused_ops(results)
    emu = {
        "rounds": 1,
        "threads": {
            t: {
                "ms": {"fuse": [100.0 / t], "fused": [300.0], "dgcnn_float": [2000.0 / t]},
                "speedup_vs_dgcnn": spread(6.0, n=1),
                "fuse_speedup_vs_dgcnn": spread(20.0, n=1),
                "scaling": {"fuse": spread(float(t), n=1), "dgcnn_float": spread(float(t), n=1)},
            }
            for t in (1, 2)
        },
        "fuse_ops_profile": {"1": ops(BgnnEdgeConv=50.0)},
    }
    emu["threads"] = {str(t): v for t, v in emu["threads"].items()}
    text = _emulated("paper", emu)
    assert "| 2 | 50.000 | 2.00x | 300.000 | 1000.000 | 2.00x | 20.00x | 6.00x |" in text
    assert "1 thread: BgnnEdgeConv 50.0 ms (100%)" in text
