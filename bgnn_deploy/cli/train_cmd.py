"""`bgnn-deploy train`: train a reference model and write a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bgnn_deploy.cli.errors import user_errors
from bgnn_deploy.cli.options import OverwriteFileOption, fraction, parse_int_list, positive
from bgnn_deploy.cli.progress import StageReporter, format_seconds
from bgnn_deploy.progress import Stages

if TYPE_CHECKING:
    from bgnn_deploy.training.train import EpochStats


def train(
    arch: Annotated[
        str,
        typer.Argument(metavar="ARCH", help="Architecture (see `bgnn-deploy models`)."),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="FILE", help="Checkpoint to write (.pt).")
    ],
    data: Annotated[
        str,
        typer.Option(metavar="DATA", help="'synthetic' or a ModelNet40 .h5 file or folder."),
    ] = "synthetic",
    epochs: Annotated[
        int, typer.Option(min=0, metavar="N", help="Epochs; 0 writes the untrained model.")
    ] = 20,
    points: Annotated[int, typer.Option(min=1, metavar="N", help="Points per cloud.")] = 1024,
    k: Annotated[int, typer.Option(min=1, metavar="N", help="Neighbours per point.")] = 20,
    widths: Annotated[
        str, typer.Option(metavar="LIST", help="EdgeConv output widths, comma-separated.")
    ] = "64,64,128,256",
    emb: Annotated[
        int, typer.Option(min=1, metavar="N", help="Embedding width (channels).")
    ] = 1024,
    mlp: Annotated[
        str,
        typer.Option(metavar="LIST", help="Hidden widths of the classifier MLP, comma-separated."),
    ] = "512,256",
    classes: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            show_default="8 for synthetic data, 40 otherwise",
            help="Number of classes.",
        ),
    ] = None,
    knn: Annotated[
        str,
        typer.Option(
            "--knn-metric",
            "--knn",
            metavar="NAME",
            help="k-NN metric of BF layers 2+: l2 or hamming (--knn: old name).",
        ),
    ] = "l2",
    balance: Annotated[
        str, typer.Option(metavar="NAME", help="Balance before sign: none, mean or median.")
    ] = "none",
    dropout: Annotated[
        float,
        typer.Option(callback=fraction, metavar="P", help="Dropout in the MLP, in [0, 1)."),
    ] = 0.5,
    batch_size: Annotated[
        int, typer.Option(min=1, metavar="N", help="Clouds per training step.")
    ] = 16,
    lr: Annotated[
        float | None,
        typer.Option(
            callback=positive,
            metavar="RATE",
            show_default="1e-2 binary, 1e-3 float",
            help="Learning rate (Adam, cosine schedule).",
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            show_default="1024 synthetic; every cloud of a file",
            help="Training clouds.",
        ),
    ] = None,
    test_samples: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            show_default="256 synthetic; every cloud of a file",
            help="Test clouds.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, metavar="N", help="Seed for data, initialisation and order.")
    ] = 0,
    overwrite: OverwriteFileOption = False,
) -> None:
    """Train ARCH and save a checkpoint that carries its configuration."""
    console = Console()
    with user_errors(), StageReporter() as show:
        with Stages(show).stage("starting PyTorch"):  # seconds on a cold start
            from bgnn_deploy.models import ModelConfig
            from bgnn_deploy.training.jobs import default_lr, train_checkpoint
            from bgnn_deploy.training.train import TrainOptions

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

        def progress(epoch: int, step: int, steps: int, loss: float) -> None:
            # one bar over every step of every epoch: a bar that fills at each epoch's end
            # would count as finished there, and its elapsed time would stop
            show.update(
                completed=(epoch - 1) * steps + step,
                total=epochs * steps,
                detail=f"epoch {epoch}/{epochs} loss {loss:.3f}",
            )

        def on_epoch(stats: EpochStats, seconds: float) -> None:
            test = f"{stats.test_accuracy:.3f}" if stats.test_accuracy is not None else "-"
            show.line(
                f"epoch {stats.epoch:{len(str(epochs))}d}/{epochs}  loss {stats.loss:.3f}  "
                f"train acc {stats.train_accuracy:.3f}  test acc {test}  "
                f"[dim]{format_seconds(seconds)}[/]"
            )

        report = train_checkpoint(
            config,
            data,
            output,
            options,
            samples=samples,
            test_samples=test_samples,
            progress=progress,
            on_epoch=on_epoch,
            stages=show,
            overwrite=overwrite,
        )
    chance = 1.0 / config.classes
    console.print(
        f"[bold]{arch}[/]: test accuracy [bold]{report.test_accuracy:.3f}[/] on "
        f"{report.test_samples} clouds (chance {chance:.3f}); saved {report.path}"
    )
