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
    from bgnn_deploy.data.graph_source import GraphSource
    from bgnn_deploy.models import SageConfig
    from bgnn_deploy.training.train import EpochStats
    from bgnn_deploy.training.train_sage import SageTrainOptions

# the graph families' architectures (bgnn_deploy.models.sage_config.SAGE_ARCHITECTURES,
# read here without importing PyTorch)
_SAGE_ARCHS = ("sage", "bin-sage")


def train(
    arch: Annotated[
        str,
        typer.Argument(metavar="ARCH", help="Architecture (see `bgnn-deploy models`)."),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="FILE", help="Checkpoint to write (.pt).")
    ],
    data: Annotated[
        str | None,
        typer.Option(
            metavar="DATA",
            show_default="synthetic; SAGE: synthetic-graph",
            help="DGCNN: 'synthetic' or a ModelNet40 .h5 file or folder; SAGE: "
            "'synthetic-graph' or an OGB node-property dataset folder.",
        ),
    ] = None,
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
        str | None,
        typer.Option(
            metavar="NAME",
            show_default="none; SAGE: bn",
            help="Balance before sign: DGCNN none, mean or median; SAGE bn, median or none.",
        ),
    ] = None,
    dropout: Annotated[
        float,
        typer.Option(callback=fraction, metavar="P", help="Dropout in the MLP, in [0, 1)."),
    ] = 0.5,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            show_default="16 clouds; SAGE: 1024 nodes",
            help="Examples per training step.",
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            callback=positive,
            metavar="RATE",
            show_default="1e-2 binary, 1e-3 float; SAGE: 5e-3",
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
    nodes: Annotated[
        int, typer.Option(min=2, metavar="N", help="SAGE, synthetic graph: nodes.")
    ] = 10000,
    degree: Annotated[
        float,
        typer.Option(callback=positive, metavar="D", help="SAGE, synthetic graph: average degree."),
    ] = 20.0,
    features: Annotated[
        int, typer.Option(min=1, metavar="N", help="SAGE, synthetic graph: features per node.")
    ] = 32,
    hidden: Annotated[int, typer.Option(min=1, metavar="N", help="SAGE: hidden width.")] = 256,
    layers: Annotated[int, typer.Option(min=1, metavar="N", help="SAGE: layers.")] = 3,
    fanouts: Annotated[
        str,
        typer.Option(
            metavar="LIST", help="SAGE: neighbours sampled per layer, output layer first."
        ),
    ] = "15,10,5",
    between: Annotated[
        str,
        typer.Option(metavar="NAME", help="bin-sage: activation between layers: none or prelu."),
    ] = "none",
    recipe: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="bin-sage: 'single' (train directly) or 'paper' (float teacher, then 3 "
            "distilled stages: tanh, binary activations, binary weights and activations).",
        ),
    ] = "single",
    overwrite: OverwriteFileOption = False,
) -> None:
    """Train ARCH and save a checkpoint that carries its configuration."""
    from bgnn_deploy.data.graph_source import SYNTHETIC_GRAPH
    from bgnn_deploy.errors import ConfigError

    if arch in _SAGE_ARCHS:
        from bgnn_deploy.data.graph_source import GraphSource
        from bgnn_deploy.models import SageConfig
        from bgnn_deploy.training.train_sage import SageTrainOptions

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
    with user_errors(), StageReporter() as show:
        if recipe != "single":
            raise ConfigError(
                f"--recipe {recipe} is for bin-sage; DGCNN trains with the single-stage recipe"
            )
        if data == SYNTHETIC_GRAPH:
            raise ConfigError(
                f"{arch} classifies point clouds; {SYNTHETIC_GRAPH} is data for sage and bin-sage",
                hint="use --data synthetic or a ModelNet40 file for DGCNN",
            )
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


def train_sage_command(
    config: SageConfig,
    source: GraphSource,
    options: SageTrainOptions,
    output: Path,
    *,
    overwrite: bool,
) -> None:
    """`train sage|bin-sage`: train by the recipe; each epoch's line as it ends (stderr,
    as DGCNN's), then each stage's and the test accuracy."""
    from bgnn_deploy.training.sage_jobs import train_sage_checkpoint

    console = Console()
    with user_errors(), StageReporter() as show:
        stages = Stages(show)
        width = len(str(options.epochs))

        def progress(stage: str, epoch: int, step: int, steps: int, loss: float) -> None:
            show.update(
                completed=step,
                total=steps,
                detail=f"{stage} epoch {epoch}/{options.epochs} loss {loss:.3f}",
            )

        def on_epoch(stage: str, stats: EpochStats, seconds: float) -> None:
            show.line(
                f"{stage} epoch {stats.epoch:{width}d}/{options.epochs}  loss {stats.loss:.3f}  "
                f"train acc {stats.train_accuracy:.3f}  val acc {stats.test_accuracy:.3f}  "
                f"[dim]{format_seconds(seconds)}[/]"
            )

        with stages.stage(f"training {config.arch} ({options.recipe} recipe)"):
            report = train_sage_checkpoint(
                config,
                source,
                output,
                options,
                progress=progress,
                on_epoch=on_epoch,
                overwrite=overwrite,
            )
    for stage in report.stages:
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
