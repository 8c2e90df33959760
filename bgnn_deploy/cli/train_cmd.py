"""`bgnn-deploy train`: train a reference model and write a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bgnn_deploy.cli.errors import err_console, user_errors
from bgnn_deploy.cli.options import OverwriteFileOption, fraction, parse_int_list, positive
from bgnn_deploy.models import ModelConfig
from bgnn_deploy.training.jobs import default_lr, train_checkpoint
from bgnn_deploy.training.train import TrainOptions


def train(
    arch: Annotated[str, typer.Argument(help="Architecture (see `bgnn-deploy models`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Checkpoint to write.")],
    data: Annotated[str, typer.Option(help="'synthetic' or a ModelNet40 .h5 file or folder.")] = (
        "synthetic"
    ),
    epochs: Annotated[int, typer.Option(min=0, help="Epochs; 0 writes the untrained model.")] = 20,
    points: Annotated[int, typer.Option(min=1, help="Points per cloud.")] = 1024,
    k: Annotated[int, typer.Option(min=1, help="Neighbours per point.")] = 20,
    widths: Annotated[str, typer.Option(help="EdgeConv output widths.")] = "64,64,128,256",
    emb: Annotated[int, typer.Option(min=1, help="Embedding width.")] = 1024,
    mlp: Annotated[str, typer.Option(help="Hidden widths of the classifier MLP.")] = "512,256",
    classes: Annotated[
        int | None, typer.Option(min=1, help="Classes [default: 8 for synthetic, 40 otherwise].")
    ] = None,
    knn: Annotated[
        str,
        typer.Option(
            "--knn-metric",
            "--knn",
            help="k-NN metric of BF layers 2+: l2 or hamming (--knn: old name).",
        ),
    ] = "l2",
    balance: Annotated[str, typer.Option(help="Balance before sign: none, mean, median.")] = "none",
    dropout: Annotated[
        float,
        typer.Option(callback=fraction, help="Dropout in the MLP, in [0, 1)."),
    ] = 0.5,
    batch_size: Annotated[int, typer.Option(min=1, help="Batch size.")] = 16,
    lr: Annotated[
        float | None,
        typer.Option(
            callback=positive,
            help="Learning rate [default: 1e-2 binary, 1e-3 float].",
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(min=1, help="Training clouds (synthetic: 1024; files: all).")
    ] = None,
    test_samples: Annotated[
        int | None, typer.Option(min=1, help="Test clouds (synthetic: 256; files: all).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed for data, initialisation and order.")] = 0,
    overwrite: OverwriteFileOption = False,
) -> None:
    """Train ARCH and save a checkpoint that carries its configuration."""
    console = Console()
    with user_errors():
        config = ModelConfig(
            arch=arch,
            num_points=points,
            k=k,
            widths=parse_int_list(widths, "--widths"),
            emb=emb,
            mlp=parse_int_list(mlp, "--mlp"),
            classes=classes or (8 if data == "synthetic" else 40),
            knn=knn,
            balance=balance,
            dropout=dropout,
        )
        options = TrainOptions(
            epochs=epochs, batch_size=batch_size, lr=lr or default_lr(arch), seed=seed
        )
        bar = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeElapsedColumn(),
            console=err_console,
        )
        task = bar.add_task("train", total=None, epoch=0, epochs=epochs, loss=float("nan"))

        def progress(epoch: int, step: int, steps: int, loss: float) -> None:
            if not bar.live.is_started:  # shown once training starts, not while data loads
                bar.start()
            bar.update(task, completed=step, total=steps, epoch=epoch, loss=loss)

        try:
            report = train_checkpoint(
                config,
                data,
                output,
                options,
                samples=samples,
                test_samples=test_samples,
                progress=progress,
                overwrite=overwrite,
            )
        finally:
            if bar.live.is_started:  # stopping a bar never shown prints an empty line
                bar.stop()
    for stats in report.result.history:
        test = f"{stats.test_accuracy:.3f}" if stats.test_accuracy is not None else "-"
        console.print(
            f"epoch {stats.epoch:3d}  loss {stats.loss:.3f}  "
            f"train acc {stats.train_accuracy:.3f}  test acc {test}"
        )
    chance = 1.0 / config.classes
    console.print(
        f"[bold]{arch}[/]: test accuracy [bold]{report.test_accuracy:.3f}[/] on "
        f"{report.test_samples} clouds (chance {chance:.3f}); saved {report.path}"
    )
