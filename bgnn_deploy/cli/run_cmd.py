"""`bgnn-deploy run`: latency and memory of a model (and its float baseline) on a target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import err_console, sigterm_as_ctrl_c, user_errors
from bgnn_deploy.cli.options import ConfigOption, finite, parse_int_list


def run(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL",
            help="A .tflite (a converted binary.tflite finds its float.tflite).",
        ),
    ],
    target: Annotated[
        list[str],
        typer.Option(
            metavar="NAME",
            help="Target profile (see `bgnn-deploy targets list`); repeat it to run on "
            "several boards in parallel.",
        ),
    ],
    baseline: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            show_default="float.tflite beside a converted binary.tflite",
            help="Float baseline .tflite.",
        ),
    ] = None,
    num_runs: Annotated[
        int,
        typer.Option(
            "--num-runs",
            "--num_runs",
            min=1,
            metavar="N",
            help="Timed runs per model (at least; see --min-secs).",
        ),
    ] = 50,
    min_secs: Annotated[
        float,
        typer.Option(
            "--min-secs",
            "--min_secs",
            min=0.0,
            max=86400.0,
            callback=finite,
            metavar="S",
            help="Keep timing each model until its timed runs add up to S seconds.",
        ),
    ] = 1.0,
    warmup_runs: Annotated[
        int,
        typer.Option(
            "--warmup-runs",
            "--warmup_runs",
            min=0,
            metavar="N",
            help="Untimed runs before the timed ones.",
        ),
    ] = 1,
    threads: Annotated[
        str,
        typer.Option(
            "--threads",
            "--num_threads",
            metavar="LIST",
            help="Thread counts, comma-separated (e.g. 1,4): one measurement each.",
        ),
    ] = "1",
    profile_ops: Annotated[
        bool,
        typer.Option(
            "--profile-ops", "--enable_op_profiling", help="Time our ops vs LiteRT's builtins."
        ),
    ] = False,
    energy: Annotated[
        bool, typer.Option(help="Measure idle and active power and energy per inference.")
    ] = False,
    energy_probe: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            show_default="the profile's",
            help="Power probe: external, rapl or none.",
        ),
    ] = None,
    idle_secs: Annotated[
        float,
        typer.Option(
            min=0.0,
            callback=finite,
            metavar="S",
            help="Seconds of idle power measured before the runs (with --energy).",
        ),
    ] = 2.0,
    db: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            show_default="$BGNN_DEPLOY_DB, else ~/.local/share/bgnn-deploy/results.sqlite",
            help="Results database.",
        ),
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep the run in the results database.")
    ] = True,
    accept_new_host_key: Annotated[
        bool, typer.Option(help="Trust and record an unknown SSH host key (never a changed one).")
    ] = False,
    board_wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            callback=finite,
            envvar="BGNN_DEPLOY_BOARD_WAIT",
            metavar="S",
            help="Seconds to wait for another run on the board to end before giving up.",
        ),
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run MODEL on TARGET and report latency, memory and the speedup over the float baseline."""
    from bgnn_deploy.errors import BgnnDeployError
    from bgnn_deploy.targets.profiles import get_target
    from bgnn_deploy.targets.run import run_models, run_on_targets

    with user_errors():
        thread_counts = parse_int_list(threads, "--threads")
    options = dict(
        baseline=baseline,
        threads=thread_counts,
        num_runs=num_runs,
        warmup_runs=warmup_runs,
        profile_ops=profile_ops,
        accept_new_host_key=accept_new_host_key,
        energy=energy,
        energy_probe=energy_probe,
        idle_seconds=idle_secs,
        min_secs=min_secs,
        board_wait_s=board_wait,
    )
    from bgnn_deploy.results import ResultsStore

    with user_errors():
        profiles = [get_target(name, config=config) for name in target]
        options["store"] = ResultsStore(db) if store else None
    if len(profiles) > 1:
        with (
            user_errors(),
            sigterm_as_ctrl_c(),
            err_console.status(f"running on {', '.join(target)} in parallel"),
        ):
            outcomes = run_on_targets(profiles, model, **options)
        _render_many(outcomes, as_json, profile_ops)
        return
    try:
        with sigterm_as_ctrl_c(), err_console.status("starting") as status:
            report = run_models(
                model, profiles[0], progress=lambda msg: status.update(msg), **options
            )
    except BgnnDeployError as e:
        partial = e.partial_report
        if partial is not None and partial.results:
            err_console.print("[yellow]measured before the failure:[/]")
            _render(partial, as_json, profile_ops)
        with user_errors():
            raise
    _render(report, as_json, profile_ops)


def _render_many(outcomes, as_json: bool, profile_ops: bool) -> None:
    from bgnn_deploy.errors import BgnnDeployError

    failed = [o for o in outcomes if isinstance(o, BgnnDeployError)]
    if as_json:
        runs = []
        for outcome in outcomes:
            if isinstance(outcome, BgnnDeployError):
                partial = outcome.partial_report
                runs.append(
                    {
                        "error": str(outcome),
                        "partial": partial.to_dict() if partial is not None else None,
                    }
                )
            else:
                runs.append(outcome.to_dict())
        typer.echo(json.dumps({"runs": runs}))
    else:
        for outcome in outcomes:
            if isinstance(outcome, BgnnDeployError):
                partial = outcome.partial_report
                if partial is not None and partial.results:
                    _render(partial, False, profile_ops)
                err_console.print(f"[bold red]error:[/] {outcome}")
            else:
                _render(outcome, False, profile_ops)
    if failed:
        raise typer.Exit(code=max(e.exit_code for e in failed))


def _render(report, as_json: bool, profile_ops: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    label = " [bold yellow](EMULATED: timings are not board figures)[/]" if report.emulated else ""
    table = Table(title=f"{report.target}{label}")
    columns = ("model", "thr", "median ms", "p90 ms", "min ms", "CV", "runs", "init ms",
               "peak RSS MiB")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "model" else "right")
    for m in report.results:
        r, lat = m.result, m.latency
        table.add_row(
            m.role,
            str(m.threads),
            f"{lat.median:.2f}",
            f"{lat.p90:.2f}",
            f"{lat.min:.2f}",
            f"{lat.cv:.1%}" if lat.cv is not None else "-",
            str(m.samples),
            f"{r.init_ms:.1f}" if r.init_ms is not None else "-",
            f"{r.peak_rss_kb / 1024:.1f}" if r.peak_rss_kb is not None else "-",
        )
    console = Console()
    console.print(table)
    for role, path in {m.role: m.model for m in report.results}.items():
        console.print(f"[dim]{role}: {path}[/]")
    if report.run_id:
        console.print(f"[dim]stored as run {report.run_id}[/]")
    for m in report.results:
        stable, why = m.stability
        if not stable:
            console.print(f"[yellow]unstable:[/] {m.role}, {m.threads} thread(s): {why}")
    for n, speedup in report.speedup.items():
        kind = "emulated " if report.emulated else ""
        ci = report.speedup_ci.get(n)
        around = f" (95% CI {ci[0]:.2f}-{ci[1]:.2f}x)" if ci else ""
        console.print(
            f"{kind}speedup binary vs float, {n} thread(s): [bold]{speedup:.2f}x[/]{around}"
        )
    if report.energy is not None and not report.energy.available:
        console.print(f"energy: not available ({report.energy.reason})")
    elif report.energy is not None:
        console.print(f"energy measured: {report.energy.source or report.energy.probe}")
    for m in report.results:
        e = m.energy
        if e is not None and not e.available:
            console.print(f"{m.role}: energy not available ({e.reason})")
        elif e is not None:
            console.print(
                f"{m.role}: {e.energy_per_inference_mj:.3f} mJ per inference "
                f"({e.active_power_w:.2f} W active, {e.idle_power_w:.2f} W idle, "
                f"{e.samples} samples at {e.sampling_rate_hz:.1f} Hz)"
            )
    if profile_ops:
        for m in report.results:
            ops = ", ".join(f"{k} {v.ms_per_run:.2f} ms" for k, v in m.result.ops.items())
            console.print(f"{Path(m.model).name}: {ops}")
