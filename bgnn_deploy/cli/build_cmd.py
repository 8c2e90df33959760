"""`bgnn-deploy build` and `bgnn-deploy verify`: the native runner for a target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bgnn_deploy.cli.errors import err_console, sigterm_as_ctrl_c, user_errors
from bgnn_deploy.cli.options import ConfigOption
from bgnn_deploy.cli.progress import StageReporter
from bgnn_deploy.progress import Stages


def build(
    target: Annotated[
        str,
        typer.Option(metavar="NAME", help="Target profile (see `bgnn-deploy targets list`)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Compile the runner for TARGET and fetch its runtime library (both cached)."""
    with user_errors(), StageReporter() as show:
        with Stages(show).stage(f"reading the profile of {target}"):
            from bgnn_deploy.targets.build import build_runner
            from bgnn_deploy.targets.profiles import get_target

            profile = get_target(target, config=config)
        result = build_runner(profile, progress=show)
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    console = Console()
    label = " (emulated)" if result.target.emulated else ""
    console.print(
        f"[bold]{result.target.name}[/]{label}: {result.target.arch}, {result.runtime_version}"
    )
    console.print(f"runner:  {result.runner}")
    console.print(f"runtime: {result.runtime_library} (sha256 {result.runtime_sha256[:16]}...)")


def verify(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="A converted .tflite.")],
    target: Annotated[str, typer.Option(metavar="NAME", help="Target profile to run it on.")],
    samples: Annotated[int, typer.Option(min=1, metavar="N", help="Clouds to compare.")] = 4,
    data: Annotated[
        str, typer.Option(metavar="DATA", help="'synthetic' or a ModelNet40 .h5 file.")
    ] = "synthetic",
    reference: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            show_default="the model itself",
            help="Host reference .tflite for a --knn fused model (its builtin form).",
        ),
    ] = None,
    accept_new_host_key: Annotated[
        bool, typer.Option(help="Trust and record an unknown SSH host key (never a changed one).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
) -> None:
    """Run MODEL through the runner on TARGET and compare with the host interpreter."""
    from bgnn_deploy.converters.convert import VerificationError
    from bgnn_deploy.targets.profiles import get_target
    from bgnn_deploy.targets.verify import verify_model

    with (
        user_errors(),
        sigterm_as_ctrl_c(),
        err_console.status(f"running {model.name} on {target}"),
    ):
        result = verify_model(
            model,
            get_target(target, config=config),
            samples=samples,
            data=data,
            reference=reference,
            accept_new_host_key=accept_new_host_key,
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        label = " (emulated)" if result.emulated else ""
        Console().print(
            f"{model.name} on {result.target}{label} vs {result.reference}: argmax agreement "
            f"{result.argmax_agreement:.0%} over {result.samples} clouds, max |diff| "
            f"{result.max_abs_diff:.2e}, bit-exact {'yes' if result.bit_exact else 'no'}"
        )
    if not result.ok:
        with user_errors():
            raise VerificationError(
                f"the runner's outputs on {result.target} disagree with the host beyond rounding"
            )
