"""`bgnn-deploy report`: the page, its figures, emulated runs marked, and clean errors."""

from __future__ import annotations

import base64
import re
import shutil

import matplotlib.image
import numpy as np
import pytest

from bgnn_deploy.report import write_report
from bgnn_deploy.report.collect import collect_runs, model_sizes, pairs
from bgnn_deploy.report.html import render_html
from bgnn_deploy.report.plots import energy_view, ops_view, trend_view
from bgnn_deploy.results import ResultsStore
from tests.report.conftest import NO_RAPL, TOO_FEW, add_run

ALL_VIEWS = {"latency", "speedup", "memory", "energy", "size", "ops", "trend"}


def table_rows(html: str, run_id: str) -> list[str]:
    """Every ``<tr>`` of the page that names ``run_id``."""
    return [row for row in re.findall(r"<tr[^>]*>.*?</tr>", html) if run_id in row]


def test_report_writes_a_page_that_shows_every_figure_it_wrote(rendered):
    result, out, ids, _ = rendered
    html = (out / "index.html").read_text()
    pngs = sorted(out.glob("*.png"))
    assert {p.stem for p in pngs} == ALL_VIEWS
    for png in pngs:
        # beside the page (relative link) and inside it (data URI): both survive a copy
        assert f'href="{png.name}"' in html
        assert base64.b64encode(png.read_bytes()).decode() in html
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 200 and image.shape[1] > 800, png.name
        assert np.std(image[..., :3]) > 0.05, f"{png.name} is blank"
        assert str(png) in result.stdout
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert "<script" not in html and "stylesheet" not in html
    assert all(run_id in result.stdout for run_id in ids.values())
    assert "the grey dots are the timed runs" in html  # what the latency figure draws is said


def test_emulated_runs_are_marked_in_every_table_and_figure(rendered):
    result, out, ids, _ = rendered
    html = (out / "index.html").read_text()
    emulated = table_rows(html, ids["emulated"])
    assert len(emulated) >= 3  # summary, latency figures, runs
    assert all('class="emulated"' in row and "EMULATED" in row for row in emulated)
    board = table_rows(html, ids["board"])
    assert board and not any("emulated" in row.lower() for row in board)
    assert "7.00x (emulated)" in html
    assert "1 of 4 run(s) are emulated" in html
    lines = result.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if ids["emulated"] in line]
    assert "qemu-aarch64" in lines[at] and "(emulated)" in lines[at + 1]
    assert "not board figures" in result.stdout


def test_missing_energy_says_why(cli, store, tmp_path):
    store, ids = store
    out = tmp_path / "host"
    result = cli("report", ids["host"], ids["emulated"], "-o", out, "--db", store.path)
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    assert f"not available: {NO_RAPL}" in html
    assert "not measured (run without --energy)" in html
    assert not (out / "energy.png").exists()
    assert NO_RAPL in result.stdout


def test_energy_figures_and_a_reason_per_measurement(store, models):
    store, ids = store
    runs = collect_runs(store, [ids["board"]])
    assert energy_view(runs).figure is not None
    [pair] = [p for p in pairs(runs) if p.threads == 1]
    assert (pair.binary.energy_mj, pair.baseline.energy_mj) == (10.0, 14.0)
    # the probe worked for the float model only: the binary's reason is kept
    jetson = add_run(
        store,
        models,
        target="jetson",
        medians={1: (5.0, 6.0)},
        energy={"available": True, "probe": "ina3221"},
        energy_mj=(None, 6.0),
    )
    runs = collect_runs(store, [jetson])
    assert runs[0].energy_status() == "measured (ina3221)"
    view = energy_view(runs)
    assert view.figure is not None and TOO_FEW in view.caption
    html = render_html(runs, [], source=store.path)
    assert f"binary</span> not available: {TOO_FEW}" in html
    assert "float</span> 6" in html


def test_views_without_data_say_what_to_do(store):
    store, ids = store
    runs = collect_runs(store, [ids["emulated"]])
    ops = ops_view(runs)
    assert ops.figure is None and "--profile-ops" in ops.caption
    trend = trend_view(runs)
    assert trend.figure is None and "at least two runs" in trend.caption
    assert trend_view(collect_runs(store, [ids["board"], ids["board again"]])).figure


def test_model_size_is_the_file_not_the_prepared_copy(store, models, tmp_path):
    store, ids = store
    host = collect_runs(store, [ids["host"]])
    # the LiteRt API measured a prepared copy (size + 4608): the file on disk is used
    assert [s.size_bytes for s in model_sizes(host)] == [8_000, 100_000]
    for path, _ in (models["binary"], models["float"]):
        (tmp_path / path).unlink()
    gone = model_sizes(host)
    assert [s.size_bytes for s in gone] == [None, None]
    assert all("gone or has changed" in s.source for s in gone)
    # the TFLite C API loaded the file itself: its model_bytes is the file size
    board = collect_runs(store, [ids["board"]])
    assert [s.size_bytes for s in model_sizes(board)] == [8_000, 100_000]


def test_last_and_a_rerun_leaves_no_stale_figure(rendered, tmp_path):
    _, drawn, ids, db = rendered
    out = tmp_path / "report"
    shutil.copytree(drawn, out)  # a folder that holds every view
    store = ResultsStore(db)
    latest = write_report(store, [], out, last=1)
    store.close()
    assert [r.run_id for r in latest.runs] == [ids["board again"]]
    assert latest.skipped.keys() == {"energy", "trend"}
    assert {p.stem for p in out.glob("*.png")} == ALL_VIEWS - {"energy", "trend"}
    assert set(latest.images) == set(out.glob("*.png")) and latest.index.is_file()
    assert [p.speedup for p in latest.rows] == [pytest.approx(14.2 / 9.5)]


def test_unknown_run_id_is_a_clean_error(cli, user_error, store, tmp_path):
    store, ids = store
    out = tmp_path / "report"
    result = cli("report", ids["board"], "nope", "-o", out, "--db", store.path)
    user_error(result, "no run 'nope'")
    assert ids["board again"] in result.stderr  # the hint lists recent runs
    assert not out.exists()


def test_empty_or_missing_store_is_a_clean_error(cli, user_error, tmp_path):
    ResultsStore(tmp_path / "empty.sqlite").close()
    empty = cli("report", "-o", tmp_path / "r", "--db", tmp_path / "empty.sqlite")
    user_error(empty, "no runs in")
    assert "bgnn-deploy run" in empty.stderr
    missing = cli("report", "-o", tmp_path / "r", "--db", tmp_path / "none.sqlite")
    user_error(missing, "no results database at")
    assert not (tmp_path / "none.sqlite").exists()
    assert not (tmp_path / "r").exists()


def test_bad_combinations_are_clean_errors(cli, user_error, store, tmp_path):
    store, ids = store
    both = cli("report", ids["board"], "--last", "1", "-o", tmp_path / "r", "--db", store.path)
    user_error(both, "not both")
    (tmp_path / "file").write_text("")
    not_dir = cli("report", "-o", tmp_path / "file", "--db", store.path)
    user_error(not_dir, "is not a folder")


def test_the_per_op_view_names_the_builtins_of_every_profiled_model(per_node_store):
    store, ids, profiles = per_node_store
    view = ops_view(collect_runs(store, [ids["per-node"]]))
    legend = {t.get_text() for legend in view.figure.legends for t in legend.get_texts()}
    for ops in profiles.values():  # each op type by its name, the binary's and the float's
        assert {n for n in ops if n != "other (unattributed)"} <= {
            t.removesuffix(" (ours)") for t in legend
        }
    assert "builtin (LiteRT)" not in legend and "LceBconv2d (ours)" in legend
    caption = view.caption
    assert "binary models only" not in caption
    assert "converted/binary.tflite on local; converted/float.tflite on local" in caption
    assert "2 of the 2 bars come from the runtime's profiler" in caption
    shares = {  # what dominates each bar, from the profiles themselves
        role: max((ms["ms_per_run"], n) for n, ms in ops.items() if n != "other (unattributed)")
        for role, ops in profiles.items()
    }
    total = {role: sum(ms["ms_per_run"] for ms in ops.values()) for role, ops in profiles.items()}
    for role, (ms, name) in shares.items():
        assert f"{name} {100 * ms / total[role]:.0f}% (converted/{role}.tflite on local" in caption
    assert "emulated" not in caption.lower()


def test_the_per_op_view_says_which_bars_have_no_per_node_times(per_node_store):
    store, ids, _ = per_node_store
    runs = collect_runs(store, [ids["per-node"], ids["board"]])
    view = ops_view(runs)
    assert view.figure is not None
    assert "2 of the 6 bars come from the runtime's profiler" in view.caption
    assert "4 bars have no per-node times" in view.caption  # board: 2 models x 2 thread counts
    assert "converted/float.tflite on local, rpi5" in view.caption


def test_the_ops_table_lists_each_models_slowest_op_types(per_node_store):
    """One row per profiled measurement, whatever the number of op types: its five slowest
    with ms and share (from the stored profile itself), then the rest together."""
    from bgnn_deploy.report.html import _ops_table

    store, ids, profiles = per_node_store
    html = _ops_table(collect_runs(store, [ids["per-node"]]))
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)[1:]  # after the header
    assert len(rows) == 2
    for row, role in zip(rows, ("binary", "float"), strict=True):
        ops = sorted(((v["ms_per_run"], n) for n, v in profiles[role].items()), reverse=True)
        total = sum(ms for ms, _ in ops)
        for ms, name in ops[:5]:
            assert f"{name} {ms:.3f} ({ms / total:.0%})" in row
        assert "more" not in row  # five op types each: nothing left over
        assert f">{total:.3f}<" in row
