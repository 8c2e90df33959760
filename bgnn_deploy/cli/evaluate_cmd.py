"""`bgnn-deploy evaluate`: accuracy and confusion of a checkpoint on a data set."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from bgnn_deploy.cli.errors import user_errors
from bgnn_deploy.cli.options import OverwriteFileOption
from bgnn_deploy.outputs import check_output_file, write_file


def evaluate(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL", help="Checkpoint (ours, or the paper's with --arch) or .tflite."
        ),
    ],
    data: Annotated[
        str | None,
        typer.Option(
            metavar="DATA",
            show_default="synthetic; SAGE: the graph it was trained on",
            help="DGCNN: 'synthetic' or a ModelNet40 .h5 file or folder; SAGE: "
            "'synthetic-graph' or an OGB dataset folder.",
        ),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Architecture of a paper-format checkpoint."),
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
    knn: Annotated[
        str | None,
        typer.Option(
            "--knn-metric",
            "--knn",
            metavar="NAME",
            show_default="l2",
            help="Paper checkpoints: k-NN metric, l2 or hamming (--knn: old name).",
        ),
    ] = None,
    split: Annotated[
        str, typer.Option(metavar="NAME", help="train or test (SAGE: train, val or test).")
    ] = "test",
    samples: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", show_default="all", help="Evaluate only the first N clouds."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            metavar="N",
            show_default="0; SAGE: the model's",
            help="Seed of the synthetic set.",
        ),
    ] = None,
    save_logits: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Write the logits (samples x classes, float32) as .npy."),
    ] = None,
    compare_logits: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Logits of the same clouds from your own code (.npy, samples x classes): "
            "agreement, and the rows whose k-NN ties at the k-th neighbour.",
        ),
    ] = None,
    overwrite: OverwriteFileOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure MODEL's accuracy (and confusion) on a data set.

    MODEL is a checkpoint or a converted .tflite (run in LCE's host interpreter)."""
    from bgnn_deploy.converters.evaluate_tflite import evaluate_tflite, is_tflite
    from bgnn_deploy.data.graph import GraphDataset  # PyTorch and the rest: only when needed
    from bgnn_deploy.models.checkpoint import load_checkpoint
    from bgnn_deploy.models.sage_config import SageConfig
    from bgnn_deploy.training.compare import compare_logits as compare
    from bgnn_deploy.training.jobs import evaluate_checkpoint
    from bgnn_deploy.training.sage_jobs import evaluate_sage_checkpoint

    sizes = {"num_points": points, "k": k, "emb": emb, "classes": classes, "knn": knn}
    unit = "clouds"
    logits_path = None
    if save_logits is not None:  # named as np.save names it; a folder is refused below
        logits_path = save_logits
        if save_logits.suffix != ".npy" and not save_logits.is_dir():
            logits_path = save_logits.with_name(save_logits.name + ".npy")
    with user_errors():
        inputs = [model] + ([data] if data else [])
        if logits_path is not None:  # before the work, not after it
            check_output_file(logits_path, overwrite=overwrite, inputs=inputs)
        loaded = None
        if not is_tflite(model):
            _check_readable_checkpoint(model)
            loaded = load_checkpoint(model, arch=arch, sizes=sizes)
        if loaded is not None and isinstance(loaded.config, SageConfig):
            result, dataset = evaluate_sage_checkpoint(loaded, data, split=split, seed=seed)
            arch_name, source = loaded.config.arch, f"{loaded.source_format} checkpoint"
            ours, notes, unit = None, loaded.notes, "nodes"
        elif is_tflite(model):
            data = data or "synthetic"
            seed = seed or 0
            result, dataset, _facts = evaluate_tflite(
                model, data, split=split, samples=samples, seed=seed
            )
            arch_name, source = model.name, "tflite, LCE host interpreter"
            ours = None  # the layers' distances are inside the flatbuffer
            notes = ()
        else:
            data = data or "synthetic"
            result, loaded, dataset = evaluate_checkpoint(
                model,
                data,
                arch=arch,
                sizes=sizes,
                split=split,
                samples=samples,
                seed=seed or 0,
                loaded=loaded,
            )
            arch_name, source = loaded.config.arch, f"{loaded.source_format} checkpoint"
            ours = loaded.model
            notes = loaded.notes
        comparison = None
        if compare_logits is not None:
            clouds = dataset.points[: result.samples] if ours is not None else None
            comparison = compare(result.logits, compare_logits, model=ours, clouds=clouds)
        if logits_path is not None:
            npy = io.BytesIO()
            np.save(npy, result.logits.astype(np.float32))
            write_file(logits_path, npy.getvalue(), overwrite=overwrite, inputs=inputs)
    class_names = (
        dataset.class_names() if isinstance(dataset, GraphDataset) else dataset.class_names
    )
    names = list(class_names) + [
        f"class{i}" for i in range(len(class_names), result.confusion.shape[0])
    ]
    per_class = result.per_class_accuracy
    if as_json:
        payload = {
            "accuracy": result.accuracy,
            "samples": result.samples,
            "model": str(model),
            "arch": arch_name,
            "data": dataset.source,
            "per_class_accuracy": {
                names[i]: (None if np.isnan(a) else float(a)) for i, a in enumerate(per_class)
            },
            "confusion": result.confusion.tolist(),
        }
        if unit == "nodes":
            payload["split"] = split
        if comparison is not None:
            payload["compare"] = comparison.to_dict()
        payload["notes"] = list(notes)
        typer.echo(json.dumps(payload))
        return
    console = Console()
    console.print(
        f"[bold]{arch_name}[/] ({source}) on {dataset.source}: "
        f"accuracy [bold]{result.accuracy:.3f}[/] over {result.samples} {unit}"
        + (f" ({split} split)" if unit == "nodes" else "")
    )
    if len(names) <= 12:
        table = Table(title="confusion (rows: true, columns: predicted)")
        table.add_column("")
        for name in names:
            table.add_column(name[:8], justify="right")
        table.add_column("acc", justify="right")
        for i, name in enumerate(names):
            acc = "-" if np.isnan(per_class[i]) else f"{per_class[i]:.2f}"
            table.add_row(name, *(str(v) for v in result.confusion[i]), acc)
        console.print(table)
    else:
        worst = [i for i in np.argsort(per_class) if not np.isnan(per_class[i])][:5]
        console.print(
            "lowest per-class accuracy: "
            + ", ".join(f"{names[i]} {per_class[i]:.2f}" for i in worst)
        )
    if logits_path is not None:
        console.print(f"logits written to {logits_path}")
    if comparison is not None:
        _print_comparison(console, comparison, unit)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")


def _check_readable_checkpoint(model: Path) -> None:
    """A file of another kind (ONNX, Keras, ...) is named for what it is."""
    from bgnn_deploy.converters.frontends import frontend_for
    from bgnn_deploy.errors import CheckpointError

    frontend = frontend_for(model)
    if frontend.name != "pytorch":
        raise CheckpointError(
            f"{model} is read by the {frontend.name} frontend ({frontend.summary}); evaluate "
            "reads PyTorch checkpoints and .tflite files",
            hint=f"convert it first (bgnn-deploy convert {model} -o DIR) and evaluate "
            "DIR/binary.tflite",
        )


def _print_comparison(console: Console, c, unit: str = "clouds") -> None:
    console.print(
        f"against {c.reference}: argmax agreement [bold]{c.argmax_agreement:.1%}[/] over "
        f"{c.samples} {unit}, max |logit diff| {c.max_abs_diff:.3g}"
    )
    if unit == "nodes":  # GraphSAGE has no k-NN, so no ties to count
        return
    if c.rows_tied_at_k is None:
        console.print("k-NN ties: counted for checkpoints only (evaluate the checkpoint)")
        return
    console.print(
        f"k-NN ties at the k-th neighbour: {c.rows_tied_at_k} of {c.rows} rows "
        f"(by layer: {', '.join(map(str, c.rows_tied_at_k_by_layer))})"
    )
    if c.rows_tied_at_k and c.argmax_agreement < 1:
        console.print(
            "[dim]where distances tie, implementations pick different neighbours: "
            "bgnn-deploy keeps the lower index, torch.topk (the paper's code) neither the "
            "lowest nor the highest; logits then differ without either being wrong[/]"
        )
