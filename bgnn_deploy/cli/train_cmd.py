"""`bgnn-deploy train`: train a reference model and write a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bgnn_deploy.cli.errors import err_console, user_errors
from bgnn_deploy.cli.options import OverwriteFileOption, fraction, parse_int_list, positive
from bgnn_deploy.data.graph_source import SYNTHETIC_GRAPH, GraphSource
from bgnn_deploy.errors import ConfigError
from bgnn_deploy.models import ModelConfig, SageConfig
from bgnn_deploy.models.sage_config import SAGE_ARCHITECTURES
from bgnn_deploy.training.jobs import default_lr, train_checkpoint
from bgnn_deploy.training.sage_jobs import train_sage_checkpoint
from bgnn_deploy.training.train import TrainOptions
from bgnn_deploy.training.train_sage import SageTrainOptions


def train(
    arch: Annotated[str, typer.Argument(help="Architecture (see `bgnn-deploy models`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Checkpoint to write.")],
    data: Annotated[
        str | None,
        typer.Option(
            help="DGCNN: 'synthetic' or a ModelNet40 .h5 file or folder; SAGE: "
            "'synthetic-graph' or an OGB node-property dataset folder [synthetic / "
            "synthetic-graph]."
        ),
    ] = None,
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
    balance: Annotated[
        str | None,
        typer.Option(
            help="Balance before sign: DGCNN none, mean, median [none]; SAGE bn, median, none [bn]."
        ),
    ] = None,
    dropout: Annotated[
        float,
        typer.Option(callback=fraction, help="Dropout in the MLP, in [0, 1)."),
    ] = 0.5,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Batch size [16 clouds; SAGE: 1024 nodes].")
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            callback=positive,
            help="Learning rate [DGCNN: 1e-2 binary, 1e-3 float; SAGE: 5e-3].",
        ),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(min=1, help="Training clouds (synthetic: 1024; files: all).")
    ] = None,
    test_samples: Annotated[
        int | None, typer.Option(min=1, help="Test clouds (synthetic: 256; files: all).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed for data, initialisation and order.")] = 0,
    nodes: Annotated[int, typer.Option(min=2, help="SAGE, synthetic graph: nodes.")] = 10000,
    degree: Annotated[
        float, typer.Option(callback=positive, help="SAGE, synthetic graph: average degree.")
    ] = 20.0,
    features: Annotated[
        int, typer.Option(min=1, help="SAGE, synthetic graph: features per node.")
    ] = 32,
    hidden: Annotated[int, typer.Option(min=1, help="SAGE: hidden width.")] = 256,
    layers: Annotated[int, typer.Option(min=1, help="SAGE: layers.")] = 3,
    fanouts: Annotated[
        str, typer.Option(help="SAGE: neighbours sampled per layer, output layer first.")
    ] = "15,10,5",
    between: Annotated[
        str, typer.Option(help="bin-sage: activation between layers: none or prelu.")
    ] = "none",
    recipe: Annotated[
        str,
        typer.Option(
            help="bin-sage: 'single' (train directly) or 'paper' (float teacher, then 3 "
            "distilled stages: tanh, binary activations, binary weights and activations)."
        ),
    ] = "single",
    overwrite: OverwriteFileOption = False,
) -> None:
    """Train ARCH and save a checkpoint that carries its configuration."""
    if arch in SAGE_ARCHITECTURES:
        with user_errors():
            source = GraphSource(
                data=SYNTHETIC_GRAPH if data in (None, "synthetic") else data,
                nodes=nodes,
                classes=classes or 8,
                features=features,
                degree=degree,
                seed=seed,
            )
            config = SageConfig(
                arch=arch,
                hidden=hidden,
                layers=layers,
                dropout=dropout,
                balance=balance or "bn",
                between=between,
            )
            options = SageTrainOptions(
                epochs=epochs,
                batch_size=batch_size or 1024,
                lr=lr or 5e-3,
                fanouts=parse_int_list(fanouts, "--fanouts"),
                recipe=recipe,
                seed=seed,
            )
        train_sage_command(config, source, options, output, overwrite=overwrite)
        return
    data = data or "synthetic"
    balance = balance or "none"
    batch_size = batch_size or 16
    console = Console()
    with user_errors():
        if recipe != "single":
            raise ConfigError(
                f"--recipe {recipe} is for bin-sage; DGCNN trains with the single-stage recipe"
            )
        if data == SYNTHETIC_GRAPH:
            raise ConfigError(
                f"{arch} classifies point clouds; {SYNTHETIC_GRAPH} is data for sage and bin-sage",
                hint="use --data synthetic or a ModelNet40 file for DGCNN",
            )
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


def train_sage_command(
    config: SageConfig,
    source: GraphSource,
    options: SageTrainOptions,
    output: Path,
    *,
    overwrite: bool,
) -> None:
    """`train sage|bin-sage`: train by the recipe, print each stage and the test accuracy."""
    console = Console()
    with user_errors():
        bar = Progress(
            TextColumn(
                "[bold]{task.fields[stage]} epoch {task.fields[epoch]}/{task.fields[epochs]}"
            ),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeElapsedColumn(),
            console=err_console,
        )
        task = bar.add_task(
            "train", total=None, stage="", epoch=0, epochs=options.epochs, loss=float("nan")
        )

        def progress(stage: str, epoch: int, step: int, steps: int, loss: float) -> None:
            if not bar.live.is_started:
                bar.start()
            bar.update(task, completed=step, total=steps, stage=stage, epoch=epoch, loss=loss)

        try:
            report = train_sage_checkpoint(
                config, source, output, options, progress=progress, overwrite=overwrite
            )
        finally:
            if bar.live.is_started:
                bar.stop()
    for stage in report.stages:
        for stats in stage.result.history:
            console.print(
                f"{stage.name:>18s} epoch {stats.epoch:3d}  loss {stats.loss:.3f}  "
                f"train acc {stats.train_accuracy:.3f}  val acc {stats.test_accuracy:.3f}"
            )
        if len(report.stages) > 1:
            console.print(
                f"stage [bold]{stage.name}[/]: best val acc {stage.val_accuracy:.3f}, "
                f"test acc {stage.test_accuracy:.3f}"
            )
    console.print(
        f"[bold]{config.arch}[/]: test accuracy [bold]{report.test_accuracy:.3f}[/] on "
        f"{report.test_nodes} held-out nodes of {report.graph_source} (chance "
        f"{report.chance:.3f}); saved {report.path}"
    )
