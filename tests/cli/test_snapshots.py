"""What a person sees at 80 columns: every command's --help, `models`, `inspect`, and the
progress of `convert` and `train` as it happens.

The screens are compared with the plain-text files in tests/cli/snapshots/. After a
deliberate change of a help text or a table, rewrite them and review the diff:

    BGNN_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cli/test_snapshots.py
"""

from __future__ import annotations

import json
import re

import pytest
import typer

from bgnn_deploy.cli.main import app

# what Typer's own help layout shows instead of a metavar (Python types, ranges in x)
LEAKED = ("<bool>", "<list[", "{model}", "<int range>", "<float range>", "<path>", "<str>", "x>=")


def _command_paths(command=None, path=()):
    """Every command and group of the CLI, as the words typed before --help."""
    command = command or typer.main.get_command(app)
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _command_paths(sub, (*path, name))


COMMANDS = list(_command_paths())


def _fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    leaked = [name for name in LEAKED if name in text]
    assert not leaked, leaked


def test_every_command_is_covered():
    """The list walks the real CLI: the top level, its commands and the groups' commands."""
    for words in [(), ("run",), ("targets",), ("targets", "check"), ("results", "export")]:
        assert words in COMMANDS


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "bgnn-deploy")
def test_help_at_80_columns(screen, matches_snapshot, words):
    result = screen(*words, "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    _fits(text)
    # click cuts a command's one-line help to fit, with "..."; [ARGS]... is its usage line
    cut = [line for line in text.splitlines()[1:] if line.endswith("...")]
    assert not cut, cut
    assert text.startswith(f"Usage: bgnn-deploy {' '.join(words)}".rstrip() + " ")
    matches_snapshot("help-" + "-".join(words) if words else "help", text)


def test_help_options_name_their_value_and_default(screen):
    """The options the issue named, as they read now."""
    text = screen("run", "--help").stdout
    for shown in ("MODEL", "--target NAME", "--num-runs, --num_runs N", "--min-secs, --min_secs S"):
        assert shown in text
    assert "--threads, --num_threads LIST" in text and "[default: 50; at least 1]" in text
    train = " ".join(screen("train", "--help").stdout.split())
    assert "Number of classes. [default: 8 for synthetic data, 40 otherwise" in train
    assert "Learning rate (Adam, cosine schedule). [default: 1e-2 binary, 1e-3 float;" in train


def test_models_table(screen, matches_snapshot):
    result = screen("models")
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    matches_snapshot("models", result.stdout)


def test_inspect_names_the_schema_enums(screen, matches_snapshot, tiny_conversion, monkeypatch):
    folder, _ = tiny_conversion
    monkeypatch.chdir(folder / "out")  # the path printed is the one typed: no tmp folder
    result = screen("inspect", "binary.tflite")
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    assert "padding=VALID" in result.stdout and "fused_activation_function=NONE" in result.stdout
    assert not re.search(r"padding=\d", result.stdout)
    matches_snapshot("inspect-binary", result.stdout)
    info = json.loads(screen("inspect", "binary.tflite", "--json").stdout)
    bconv = [c["options"] for c in info["custom_ops"] if c["op"] == "LceBconv2d"]
    assert bconv and all(o["padding"] == "VALID" for o in bconv)


CONVERT_STAGES = [
    "loading the model",
    "LCE conversion",
    "ONNX export",
    "float baseline",
    "parity: binary.tflite (2 clouds)",
    "parity: model.onnx (2 clouds)",
    "parity: float.tflite (2 clouds)",
]


def _stage_lines(stderr: str) -> list[str]:
    """The progress lines of plain stderr, their times taken off."""
    return [
        line if line.endswith(" ...") else re.sub(r"  \d+\.\d s$", "", line)
        for line in stderr.splitlines()
        if line.endswith(" ...") or re.search(r"^✓ .*  \d+\.\d s$", line)
    ]


def _started_and_ended(stages: list[str]) -> list[str]:
    return [line for stage in stages for line in (f"{stage} ...", f"✓ {stage}")]


def test_convert_shows_each_stage_in_order(tiny_conversion):
    """On a pipe: each stage as a plain line when it starts and a ✓ line with its time
    when it ends, in the order convert runs them; --json's stdout is only the report."""
    _, process = tiny_conversion
    assert "\x1b" not in process.stderr  # no spinner, no escape codes
    assert _stage_lines(process.stderr) == _started_and_ended(CONVERT_STAGES), process.stderr
    assert json.loads(process.stdout)["verified"] is True


def test_convert_fuse_shows_the_fusion_and_its_checks(screen, tiny_conversion, tmp_path):
    folder, _ = tiny_conversion
    result = screen("convert", folder / "model.pt", "-o", tmp_path / "fast", "--fuse",
                    "--samples", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _stage_lines(result.stderr) == _started_and_ended(
        [
            "loading the model",
            "LCE conversion",
            "fusion",
            "ONNX export",
            "float baseline",
            "parity: the portable LCE form (2 clouds)",
            "parity: the fused ops (2 clouds)",
            "parity: model.onnx (2 clouds)",
            "parity: float.tflite (2 clouds)",
        ]
    ), result.stderr
    assert "✓" not in result.stdout and "verified" in result.stdout


def test_train_prints_each_epoch_as_it_ends(train_lines):
    """Epoch lines arrive while training runs, not all at the end: the time between the
    first and the last one's arrival is most of what the later epochs took."""
    lines, exited = train_lines(
        "bin-dgcnn-bf2", "--epochs", "4", "--points", "48", "--k", "6", "--widths", "8,16",
        "--emb", "16", "--mlp", "16", "--classes", "3", "--samples", "24",
        "--test-samples", "6", "-o", "m.pt",
    )  # fmt: skip
    starts = [line for _, line in lines if line.endswith(" ...")]
    assert starts[:4] == [
        "starting PyTorch ...",
        "loading data ...",
        "building the model ...",
        "training (4 epochs) ...",
    ]
    epochs = [(at, line) for at, line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for _, line in epochs] == ["1/4", "2/4", "3/4", "4/4"]
    for _, line in epochs:
        assert re.fullmatch(
            r"epoch \d/4  loss \d\.\d{3}  train acc \d\.\d{3}  test acc \d\.\d{3}  \d+\.\d s", line
        ), line
    later = sum(float(line.split()[-2]) for _, line in epochs[1:])
    assert epochs[-1][0] - epochs[0][0] >= 0.5 * later, (epochs, later)
    assert epochs[0][0] < exited


def _stable_text(text: str, ids: dict[str, str]) -> str:
    """The screen without what changes from one test session to the next: the run ids
    (named by their run) and the times they were stored."""
    for name, run_id in ids.items():
        text = text.replace(run_id, f"<{name} id>").replace(run_id[-6:], f"<{name}>")
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<stored at>", text)
    return re.sub(r"\d\d-\d\d \d\d:\d\d", "<when>", text)


@pytest.mark.parametrize("view", ["show local", "show qemu", "list", "compare"])
def test_the_results_views(screen, matches_snapshot, stored_runs, view):
    """`results show` reads as `run` prints a run (the target as measured, its runtime by
    one name, the parameters, latency without percentiles from too few runs, start-up,
    memory, throughput, the verdicts and the speedup with its interval); `list` and
    `compare` fit beside it."""
    db, ids = stored_runs
    command, *which = view.split()
    args = {"show": [ids[w] for w in which], "list": [], "compare": [ids["local"], ids["qemu"]]}
    result = screen("results", command, *args[command], "--db", db)
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    assert "…" not in result.stdout  # nothing cut
    matches_snapshot(f"results-{view.replace(' ', '-')}", _stable_text(result.stdout, ids))


def test_train_sage_prints_each_epoch_as_it_ends(train_lines):
    """The graph family reports as DGCNN's does: each stage's epochs as they end."""
    lines, exited = train_lines(
        "bin-sage", "--data", "synthetic-graph", "--nodes", "400", "--degree", "8",
        "--features", "8", "--hidden", "16", "--layers", "2", "--fanouts", "5,5",
        "--batch-size", "50", "--epochs", "3", "-o", "m.pt",
    )  # fmt: skip
    assert "training bin-sage (single recipe) ..." in [line for _, line in lines]
    epochs = [(at, line) for at, line in lines if line.startswith("single epoch ")]
    assert [line.split()[2] for _, line in epochs] == ["1/3", "2/3", "3/3"]
    for _, line in epochs:
        assert re.fullmatch(
            r"single epoch \d/3  loss \d\.\d{3}  train acc \d\.\d{3}  val acc \d\.\d{3}  "
            r"\d+\.\d s",
            line,
        ), line
    assert epochs[0][0] < epochs[-1][0] < exited
