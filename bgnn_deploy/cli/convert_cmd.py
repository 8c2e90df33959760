"""`bgnn-deploy convert`: checkpoint -> LCE + float flatbuffers, ONNX, and a parity report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import err_console, user_errors
from bgnn_deploy.cli.options import OverwriteDirOption
from bgnn_deploy.cli.progress import StageReporter


def convert(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL", help="Checkpoint (ours, or the paper's with --arch) or .onnx."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="DIR", help="Output folder.")],
    arch: Annotated[
        str | None, typer.Option(metavar="NAME", help="Architecture of a paper checkpoint.")
    ] = None,
    frontend: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            show_default="by the file's kind",
            help="Reader of MODEL: pytorch or onnx.",
        ),
    ] = None,
    points: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", show_default="the model's", help="Points per cloud."),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", show_default="20", help="Paper checkpoints: neighbours per point."
        ),
    ] = None,
    emb: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", show_default="1024", help="Paper checkpoints: embedding width."
        ),
    ] = None,
    classes: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", show_default="40", help="Paper checkpoints: classes."),
    ] = None,
    knn_metric: Annotated[
        str | None,
        typer.Option(
            "--knn-metric",
            metavar="NAME",
            show_default="l2",
            help="Paper checkpoints: k-NN metric, l2 or hamming.",
        ),
    ] = None,
    knn: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            help="Hamming k-NN as 'builtin' ops or one 'fused' custom op (the metric of a "
            "paper checkpoint is --knn-metric).",
        ),
    ] = "builtin",
    fuse: Annotated[
        bool,
        typer.Option(
            "--fuse",
            help="Write binary.tflite with bgnn-deploy's bit-domain ops (BgnnEdgeConv, ...: "
            "our runner only); implies --knn fused.",
        ),
    ] = False,
    data: Annotated[
        str,
        typer.Option(metavar="DATA", help="Parity clouds: 'synthetic' or a ModelNet40 .h5."),
    ] = "synthetic",
    samples: Annotated[
        int, typer.Option(min=1, metavar="N", help="Clouds in the parity check.")
    ] = 8,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Fail when parity targets are missed.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json.")] = False,
    overwrite: OverwriteDirOption = False,
) -> None:
    """Convert MODEL to OUTPUT/binary.tflite (LCE ops), float.tflite, model.onnx and report.json."""
    from bgnn_deploy.converters.convert import VerificationError, convert_checkpoint

    sizes = {"num_points": points, "k": k, "emb": emb, "classes": classes, "knn": knn_metric}
    with user_errors(), StageReporter() as show:
        try:
            result = convert_checkpoint(
                model,
                output,
                arch=arch,
                sizes=sizes,
                knn=knn,
                data=data,
                samples=samples,
                verify=verify,
                progress=show,
                overwrite=overwrite,
                fuse=fuse,
                frontend=frontend,
            )
        except VerificationError:
            show.close()
            _render(json.loads((output / "report.json").read_text()), output, as_json)
            raise
    _render(result.data, output, as_json)


def _render(report: dict, output: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report))
        return
    console = Console()
    sizes = report["size_bytes"]
    table = Table(title=f"{report['arch']} -> {output}/")
    table.add_column("file")
    table.add_column("size", justify="right")
    table.add_column("ops (count)")
    for key in ("binary", "float"):
        if key in sizes:
            ops = ", ".join(f"{n} {c}" for n, c in report["ops"][key].items())
            table.add_row(f"{key}.tflite", f"{sizes[key] / 1024:,.1f} KiB", ops)
    console.print(table)
    macs = report["macs"]
    total = macs["binary"] + macs["float"]
    line = f"MACs per inference: {total:,} ({macs['binary_share']:.1%} binary)"
    if "binary" in sizes:
        line += f"; float/binary size ratio {sizes['float'] / sizes['binary']:.1f}x"
    if report.get("fused"):
        ops = ", ".join(f"{n} {c}" for n, c in report["fused_ops"].items() if c)
        line += f"; fused: {ops}"
    elif report.get("fused_knn_ops"):
        line += f"; {report['fused_knn_ops']} Hamming k-NN fused into BgnnHammingKnn"
    console.print(line)
    parity = report["parity"]
    checks = Table(title=f"parity on {parity['samples']} clouds of {parity['data']}")
    for col in ("model", "argmax", "max |dlogit|", "k-NN idx", "near ties", "binary features"):
        checks.add_column(col, justify="left" if col == "model" else "right")
    for check in parity["checks"].values():
        layers = check["layers"]
        feats = [lp["feature_agreement"] for lp in layers if lp["feature_agreement"] is not None]
        checks.add_row(
            check["name"],
            f"{check['argmax_agreement']:.0%}",
            f"{check['max_abs_logit_diff']:.1e}",
            "-" if check["knn_index_agreement"] is None else f"{check['knn_index_agreement']:.2%}",
            str(sum(lp["rows_near_tie"] for lp in layers)) if layers else "-",
            f"{min(feats):.2%} bit-exact" if feats else "-",
        )
    console.print(checks)
    for note in parity.get("unchecked", []):
        console.print(f"[yellow]not checked:[/] {note}")
    if parity.get("differences") == "near-ties-only":
        tied = {c["name"]: c["near_tie_samples"] for c in parity["checks"].values()}
        moved = sum(c["argmax_differs_at_near_ties"] for c in parity["checks"].values())
        console.print(
            "[yellow]near ties:[/] differences only where k-NN distances (or values before a "
            "sign) tie within float rounding, in "
            + ", ".join(f"{n}: {t} samples" for n, t in tied.items() if t)
            + (f"; the argmax moved in {moved}" if moved else "")
            + " (both are right: a tie picks either neighbour)"
        )
    for note in report.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    if parity["failures"]:
        for failure in parity["failures"]:
            err_console.print(f"[bold red]parity:[/] {failure}")
    else:
        console.print(f"[bold green]verified[/]: every parity target met ({report['seconds']} s)")
