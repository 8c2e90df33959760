"""What the report marks and says about each run: unstable timings, speedup intervals,
runtime names and mixes, emulated rows, and figures and captions that agree with the
tables (the median labelled at its tick, the trend's runs numbered as the Runs table)."""

from __future__ import annotations

import re

import pytest
from matplotlib.text import Annotation

from bgnn_deploy.report.plots import (
    NARROW_WIDTH_IN,
    UNSTABLE_LABEL,
    UNSTABLE_MARK,
    render_views,
)
from bgnn_deploy.results import ResultsStore


def table_rows(html: str, run_id: str) -> list[str]:
    return [row for row in re.findall(r"<tr[^>]*>.*?</tr>", html) if run_id in row]


@pytest.fixture(scope="module")
def stored(realistic):
    """Every stored run as the store gives it back (not through the report's code)."""
    _, ids, _, db = realistic
    store = ResultsStore(db)
    runs = {run_id: store.get_run(run_id) for run_id in ids.values()}
    store.close()
    return runs


@pytest.fixture(scope="module")
def views(realistic):
    _, _, runs, _ = realistic
    return {v.name: v for v in render_views(runs)}


def texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]


def unstable_by_hand(stored) -> set[tuple[str, str, int]]:
    """(run, role, threads) whose timed runs spread more than 10% (std / mean) or number
    fewer than 5: the rule the runner's users are told."""
    out = set()
    for run_id, run in stored.items():
        for m in run.report.results:
            lat = m.result.latency
            if lat.runs < 5 or lat.std is None or lat.std / lat.mean > 0.10:
                out.add((run_id, m.role, m.threads))
    return out


def test_unstable_measurements_are_marked_in_tables_and_figures(realistic, stored, views):
    result, ids, _, _ = realistic
    html = result.index.read_text()
    bad = unstable_by_hand(stored)
    assert {run_id for run_id, *_ in bad} == {ids["unstable"], ids["few"]}  # the fixture's
    for run_id in (ids["unstable"], ids["few"]):
        rows = table_rows(html, run_id)
        assert any("unstable" in row and UNSTABLE_MARK in row for row in rows), run_id
    assert "re-run on a quiet board" in html
    for run_id in (ids["board"], ids["host"], ids["emulated"]):
        assert not any("unstable" in row for row in table_rows(html, run_id)), run_id
    # the latency figure: one cross per unstable model, and the legend says what it means
    latency = texts(views["latency"].figure)
    assert latency.count(UNSTABLE_MARK) == len(bad)
    assert UNSTABLE_LABEL in latency
    # a speedup is as unstable as either side: the two runs' speedups carry the cross
    assert texts(views["speedup"].figure).count(UNSTABLE_MARK) == 2
    for run_id, role, threads in bad:
        assert f"run {run_id} {role}, {threads} thread" in views["latency"].caption


def test_speedups_show_their_95_percent_interval(realistic, stored, views):
    result, ids, _, _ = realistic
    html = result.index.read_text()
    start = html.index("<h2>Summary</h2>")
    summary = html[start : html.index("<h2", start + 1)]
    shown = 0
    for run_id, run in stored.items():
        for threads, (lo, hi) in run.report.speedup_ci.items():
            cell = f'<td class="num">{threads}</td>'
            [row] = [r for r in table_rows(summary, run_id) if cell in r]
            assert f"95% CI {lo:.2f}-{hi:.2f}" in row
            figure = [t for t in texts(views["speedup"].figure) if f"[{lo:.2f}, {hi:.2f}]" in t]
            assert figure, (run_id, threads)
            shown += 1
    assert shown == 7  # every pair with enough timed runs a side
    # 3 timed runs a side: no interval, and the caption says which rows have one
    assert not stored[ids["few"]].report.speedup_ci
    assert "95% CI" not in table_rows(summary, ids["few"])[0]
    assert "for the 7 of 8 rows" in views["speedup"].caption


def test_each_runtime_has_one_name_and_a_mix_is_a_warning(realistic, rendered):
    result, ids, _, _ = realistic
    html = result.index.read_text()
    runs_table = html[html.index("<h2>Runs</h2>") :]
    for name in ("host", "few"):
        [row] = table_rows(runs_table, ids[name])
        assert "litert (ai-edge-litert 2.3.0)" in row
    for name in ("board", "unstable"):
        [row] = table_rows(runs_table, ids[name])
        assert "tflite-c (ai-edge-litert 1.4.0, TFLite 2.20.0)" in row
    [old] = table_rows(runs_table, ids["old runtime"])
    assert "tflite-c (ai-edge-litert 1.4.0, TFLite 2.16.1)" in old
    warnings = re.findall(r'<p class="warning"><b>Different runtimes</b>.*?</p>', html)
    [warning] = [w for w in warnings if "rpi5" in w]
    assert "TFLite 2.16.1" in warning and "TFLite 2.20.0" in warning
    assert ids["old runtime"] in warning and "local" not in warning
    # and the report as a whole spans three runtimes: its speedups are not comparable
    [overall] = [w for w in warnings if w is not warning]
    assert "3 runtimes" in overall and "litert (ai-edge-litert 2.3.0)" in overall
    assert "compare speedups within one runtime" in overall
    # one runtime per target (the host's differs from the board's): only the overall one
    _, out, _, _ = rendered
    page = (out / "index.html").read_text()
    assert page.count("Different runtimes") == 1 and "compare speedups within one" in page


def test_the_latency_median_is_labelled_at_its_tick_not_at_the_max(stored, views):
    figure = views["latency"].figure
    medians = {m.result.latency.median for run in stored.values() for m in run.report.results}
    maxima = {m.result.latency.max for run in stored.values() for m in run.report.results}
    labels = [a for a in figure.findobj(Annotation) if a.get_text().endswith(" ms") and a.axes]
    assert len(labels) == sum(len(run.report.results) for run in stored.values())
    for label in labels:
        x = label.xy[0]
        assert any(x == pytest.approx(m) for m in medians), label.get_text()
        assert not any(x == pytest.approx(m) for m in maxima), label.get_text()
    # the tick: white over a dark outline, so it shows on any bar
    ticks = [line for ax in figure.axes for line in ax.get_lines() if line.get_marker() == "|"]
    white = [t for t in ticks if t.get_color() == "white"]
    dark = [t for t in ticks if t.get_color() != "white"]
    assert len(white) == len(dark) == len(labels)
    assert min(t.get_zorder() for t in white) > max(t.get_zorder() for t in dark)


def test_emulated_rows_say_so_however_thin_their_bars(realistic):
    _, ids, runs, _ = realistic
    emulated = ids["emulated"]
    for width in (None, NARROW_WIDTH_IN):
        drawn = render_views(runs) if width is None else render_views(runs, width=width)
        for view in (v for v in drawn if v.name in ("latency", "speedup", "memory")):
            labels = [t for t in texts(view.figure) if emulated[-6:] in t]
            assert labels and all("EMULATED" in t for t in labels), (view.name, width)


def test_the_trend_numbers_runs_as_the_runs_table_does(realistic, stored, views):
    result, _, _, db = realistic
    store = ResultsStore(db)
    order = [r["run_id"] for r in store.list_runs()]  # oldest first
    store.close()
    html = result.index.read_text()
    runs_table = html[html.index("<h2>Runs</h2>") :]
    for n, run_id in enumerate(order, start=1):
        [row] = table_rows(runs_table, run_id)
        assert row.split("</td>")[0].endswith(f">{n}")
    ticks = {}
    for ax in views["trend"].figure.axes:
        ticks[ax.get_title(loc="left")] = [t.get_text() for t in ax.get_xticklabels()]
    by_target: dict[str, list[int]] = {}
    for n, run_id in enumerate(order, start=1):
        by_target.setdefault(stored[run_id].report.target, []).append(n)
    # the emulated board ran once: no trend; the others' ticks are their runs' numbers
    assert set(ticks) == {"rpi5", "local"}
    for target, labels in ticks.items():
        assert [label.split("\n")[0] for label in labels] == [f"#{n}" for n in by_target[target]]


def test_captions_agree_with_the_tables(realistic, stored, views):
    result, ids, _, _ = realistic
    html = result.index.read_text()
    rows = {}
    for run in stored.values():
        rows[run.report.target] = rows.get(run.report.target, 0) + len(
            {m.threads for m in run.report.results}
        )
    caption = views["latency"].caption
    assert f"{sum(rows.values())} rows" in caption
    for target, n in rows.items():
        assert f"{target} ({n}" in caption
    assert f"run {ids['few']} binary, 1 thread: 3" in caption  # the odd one out
    assert "timed 20 times" in caption
    # the per-op table's caption counts the profiled measurements it lists
    profiled = sum(1 for run in stored.values() for m in run.report.results if m.result.ops)
    assert profiled and f"The table lists all {profiled} profiled measurements" in html


def test_a_run_whose_rounds_disagree_is_marked(tmp_path):
    """Both sides' runs steady, but the board slowed down for two of the five rounds: the
    speedup is marked unstable and the page says the board's speed drifted."""
    from bgnn_deploy.report import write_report
    from bgnn_deploy.results import ResultsStore
    from tests.report.conftest import add_run, make_models

    store = ResultsStore(tmp_path / "runs.sqlite")
    models = make_models(tmp_path / "converted")
    drifted = add_run(store, models, target="rpi5", medians={1: (5.0, 10.0)},
                      speedup_rounds={1: [2.0, 2.0, 1.4, 1.4, 2.0]})  # fmt: skip
    steady = add_run(store, models, target="rpi5", medians={1: (5.0, 10.0)},
                     speedup_rounds={1: [2.0, 2.01, 1.99, 2.0, 2.0]})  # fmt: skip
    result = write_report(store, [], tmp_path / "report")
    store.close()
    html = result.index.read_text()
    [warning] = re.findall(r"the board's speed drifted.*?</p>", html)
    assert drifted in warning and steady not in warning and "1.40x to 2.00x" in warning
    summary = html[html.index("<h2>Summary</h2>") :]
    assert "unstable" in table_rows(summary, drifted)[0]
    assert "unstable" not in table_rows(summary, steady)[0]
