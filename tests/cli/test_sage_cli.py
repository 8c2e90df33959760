"""The GraphSAGE family through the CLI: models, train (both recipes), evaluate."""

from __future__ import annotations

import json

import numpy as np

from bgnn_deploy.models.checkpoint import load_checkpoint

TINY = ["--nodes", "240", "--degree", "8", "--features", "8", "--classes", "4"]
SIZES = ["--hidden", "16", "--layers", "2", "--fanouts", "5,5", "--batch-size", "64"]


def test_models_json_lists_the_sage_family(cli):
    rows = {r["arch"]: r for r in json.loads(cli("models", "--json").stdout)}
    assert rows["sage"]["family"] == rows["bin-sage"]["family"] == "sage"
    assert rows["bin-sage"]["binary_parameters"] > 0 == rows["sage"]["binary_parameters"]


def test_train_bin_sage_then_evaluate_the_held_out_nodes(cli, tmp_path):
    out = tmp_path / "m.pt"
    result = cli(
        "train", "bin-sage", "--data", "synthetic-graph", *TINY, *SIZES, "--epochs", "2", "-o", out
    )
    assert result.exit_code == 0, result.output
    assert "held-out nodes" in result.stdout and "chance" in result.stdout
    loaded = load_checkpoint(out)
    assert (loaded.config.arch, loaded.config.in_channels, loaded.config.classes) == (
        "bin-sage",
        8,
        4,
    )
    evaluated = cli("evaluate", out, "--json", "--save-logits", tmp_path / "l.npy")
    assert evaluated.exit_code == 0, evaluated.output
    payload = json.loads(evaluated.stdout)
    assert payload["samples"] == 60 and payload["split"] == "test"  # a quarter of 240 nodes
    # the accuracy printed by train is the one evaluate measures on the same nodes
    assert payload["accuracy"] == loaded.meta["test_accuracy"]
    logits = np.load(tmp_path / "l.npy")
    assert logits.shape == (60, 4)
    assert np.trace(np.array(payload["confusion"])) == round(payload["accuracy"] * 60)


def test_train_float_sage_and_the_paper_recipe(cli, tmp_path):
    result = cli("train", "sage", *TINY, *SIZES, "--epochs", "1", "-o", tmp_path / "f.pt")
    assert result.exit_code == 0, result.output
    result = cli(
        "train", "bin-sage", *TINY, *SIZES, "--epochs", "1", "--recipe", "paper",
        "-o", tmp_path / "p.pt",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for stage in ("sage", "tanh", "binary-activations", "binary"):
        assert f"stage {stage}:" in result.stdout
    meta = load_checkpoint(tmp_path / "p.pt").meta
    assert [s["name"] for s in meta["stages"]] == ["sage", "tanh", "binary-activations", "binary"]


def test_sage_mistakes_are_one_error_line(cli, tmp_path, user_error):
    user_error(
        cli("train", "bin-sage", *TINY, "--recipe", "magic", "-o", tmp_path / "m.pt"),
        "unknown recipe 'magic'",
    )
    user_error(
        cli("train", "sage", *TINY, "--recipe", "paper", "--epochs", "1", "-o", tmp_path / "m.pt"),
        "binary student",
    )
    user_error(
        cli("train", "bin-dgcnn-bf1", "--data", "synthetic-graph", "-o", tmp_path / "m.pt"),
        "classifies point clouds",
    )
    user_error(
        cli("train", "bin-sage", "--data", str(tmp_path), "-o", tmp_path / "m.pt"),
        "not an OGB node-property dataset folder",
    )


def test_convert_refuses_a_sage_checkpoint_cleanly(cli, tmp_path, user_error):
    out = tmp_path / "m.pt"
    assert cli("train", "bin-sage", *TINY, *SIZES, "--epochs", "0", "-o", out).exit_code == 0
    user_error(cli("convert", out, "-o", tmp_path / "c"), "not available yet")


def test_evaluate_compares_sage_logits_with_another_implementations(cli, tmp_path):
    out = tmp_path / "m.pt"
    assert cli("train", "bin-sage", *TINY, *SIZES, "--epochs", "0", "-o", out).exit_code == 0
    assert cli("evaluate", out, "--save-logits", tmp_path / "ours.npy").exit_code == 0
    other = np.load(tmp_path / "ours.npy")
    other[0] = other[0][::-1] * 3  # one node that another implementation got differently
    np.save(tmp_path / "other.npy", other)
    result = cli("evaluate", out, "--json", "--compare-logits", tmp_path / "other.npy")
    assert result.exit_code == 0, result.output
    compare = json.loads(result.stdout)["compare"]
    assert compare["samples"] == 60 and compare["rows_tied_at_k"] is None
    assert compare["max_abs_diff"] > 0
    text = cli("evaluate", out, "--compare-logits", tmp_path / "other.npy").stdout
    assert "over 60 nodes" in text and "k-NN" not in text


def test_train_knows_every_graph_architecture():
    """`train` tells the families apart without importing PyTorch: its list of the graph
    architectures is the registry's."""
    from bgnn_deploy.cli.train_cmd import _SAGE_ARCHS
    from bgnn_deploy.models.sage_config import SAGE_ARCHITECTURES

    assert set(_SAGE_ARCHS) == set(SAGE_ARCHITECTURES)
