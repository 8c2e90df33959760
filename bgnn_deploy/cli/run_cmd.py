"""`bgnn-deploy run`: latency and memory of a model (and its float baseline) on a target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
            help="Untimed runs before the timed ones, in each round.",
        ),
    ] = 1,
    rounds: Annotated[
        int,
        typer.Option(
            "--rounds",
            min=1,
            metavar="N",
            help="Runner invocations per model, binary and float alternating, so that a "
            "drift of the board's speed hits both (fewer if there are fewer runs).",
        ),
    ] = 5,
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
            "--profile-ops",
            "--enable_op_profiling",
            help="Time each op type and node, LiteRT's builtins too (the profiler's "
            "own cost lands in the figures: quote runs without it).",
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
        rounds=rounds,
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
    from bgnn_deploy.cli.run_view import mixed_runtime_warning
    from bgnn_deploy.errors import BgnnDeployError

    failed = [o for o in outcomes if isinstance(o, BgnnDeployError)]
    warning = mixed_runtime_warning([o for o in outcomes if not isinstance(o, BgnnDeployError)])
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
        warnings = [warning] if warning is not None else []
        typer.echo(json.dumps({"runs": runs, "warnings": warnings}))
    else:
        for outcome in outcomes:
            if isinstance(outcome, BgnnDeployError):
                partial = outcome.partial_report
                if partial is not None and partial.results:
                    _render(partial, False, profile_ops)
                err_console.print(f"[bold red]error:[/] {outcome}")
            else:
                _render(outcome, False, profile_ops)
        if warning is not None:
            err_console.print(f"[yellow]warning:[/] {warning}")
    if failed:
        raise typer.Exit(code=max(e.exit_code for e in failed))


def _render(report, as_json: bool, profile_ops: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    from bgnn_deploy.cli.run_view import print_report

    console = Console()
    print_report(report, console)
    if profile_ops:
        from bgnn_deploy.cli.profile_view import profile_table

        console.print(profile_table(report.results))
