"""The CLI through Typer's runner: outputs users rely on, and clean errors for their mistakes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bgnn_deploy.data import load_dataset
from bgnn_deploy.models import ARCHITECTURES, SAGE_ARCHITECTURES, ModelConfig, build_model
from bgnn_deploy.models.checkpoint import load_checkpoint
from tests.cli.conftest import SMALL
from tests.models.paper_fixtures import (
    fixture_sizes,
    load_fixture,
    seeded_points,
    write_paper_checkpoint,
)


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("models", "train", "evaluate"):
        assert command in result.stdout


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.startswith("bgnn-deploy ")


def test_models_json_counts_match_the_library(cli):
    result = cli("models", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["arch"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(ARCHITECTURES) | set(SAGE_ARCHITECTURES)
    assert rows["dgcnn"]["parameters"] == sum(
        p.numel() for p in build_model(ModelConfig(arch="dgcnn")).parameters()
    )


def test_models_table(cli):
    result = cli("models")
    assert result.exit_code == 0 and "bin-dgcnn-bf2" in result.stdout


def test_train_writes_a_checkpoint_with_its_configuration(cli, small_model):
    loaded = load_checkpoint(small_model)
    cfg = loaded.config
    assert (cfg.arch, cfg.num_points, cfg.k, cfg.widths, cfg.emb, cfg.knn) == (
        "bin-dgcnn-bf2",
        48,
        6,
        (8, 16),
        16,
        "hamming",
    )
    assert loaded.meta["epochs"] == 1 and len(loaded.meta["history"]) == 1


def test_train_epochs_zero_writes_an_untrained_model(cli, tmp_path):
    path = tmp_path / "init.pt"
    result = cli("train", "dgcnn", "--epochs", "0", *SMALL, "-o", path)
    assert result.exit_code == 0, result.output
    assert load_checkpoint(path).meta["history"] == []


def test_evaluate_json_and_logits_match_pytorch(cli, small_model, tmp_path):
    logits_path = tmp_path / "logits.npy"
    result = cli("evaluate", small_model, "--samples", "6", "--json", "--save-logits", logits_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # Reference: the same model run directly in PyTorch on the same clouds.
    loaded = load_checkpoint(small_model)
    data = load_dataset("synthetic", split="test", num_points=48, samples=6, classes=3)
    with torch.no_grad():
        expected = loaded.model(torch.from_numpy(data.points)).numpy()
    saved = np.load(logits_path)
    assert saved.dtype == np.float32 and saved.shape == (6, 3)
    np.testing.assert_allclose(saved, expected, rtol=1e-5, atol=1e-5)
    assert report["samples"] == 6
    assert report["accuracy"] == pytest.approx(float(np.mean(expected.argmax(1) == data.labels)))


def test_evaluate_table(cli, small_model):
    result = cli("evaluate", small_model, "--samples", "6")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "confusion" in result.stdout


@pytest.mark.parametrize("arch", ["bin-dgcnn-rf", "bin-dgcnn-bf2"])
def test_evaluate_paper_checkpoint_gives_the_paper_codes_logits(cli, tmp_path, arch):
    """A DataParallel state_dict plus --arch and sizes on the command line, on an HDF5 file
    holding the clouds the paper's code was run on."""
    import h5py

    fx = load_fixture(arch)
    model = write_paper_checkpoint(tmp_path / "model.t7", fx)
    with h5py.File(tmp_path / "clouds.h5", "w") as f:
        f.create_dataset(
            "data", data=seeded_points(fx["batch"], fx["num_points"], fx["points_seed"])
        )
        f.create_dataset("label", data=np.zeros((fx["batch"], 1), dtype=np.uint8))
    sizes = [f"--{'points' if k == 'num_points' else k}={v}" for k, v in fixture_sizes(fx).items()]
    logits = tmp_path / "logits.npy"
    result = cli(
        "evaluate",
        model,
        "--arch",
        arch,
        *sizes,
        "--data",
        tmp_path / "clouds.h5",
        "--save-logits",
        logits,
        "--json",
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(logits), np.asarray(fx["logits"]), rtol=1e-4, atol=1e-4)


def test_missing_model_file(cli, tmp_path, user_error):
    user_error(cli("evaluate", tmp_path / "missing.pt"), "model file not found")


def test_not_a_checkpoint(cli, tmp_path, user_error):
    path = tmp_path / "readme.pt"
    path.write_text("not a model")
    user_error(cli("evaluate", path), "not a readable PyTorch checkpoint")


def test_paper_checkpoint_without_arch(cli, tmp_path, user_error):
    path = tmp_path / "model.t7"
    torch.save({"module.bn1.weight": torch.ones(64)}, path)
    result = cli("evaluate", path)
    user_error(result, "plain state_dict")
    assert "hint: " in result.stderr


def test_wrong_architecture_for_paper_checkpoint(cli, tmp_path, user_error):
    path = tmp_path / "model.t7"
    torch.save({"module.bn1.weight": torch.ones(64)}, path)
    user_error(cli("evaluate", path, "--arch", "dgcnn"), "checkpoint does not fit dgcnn")


def test_wrong_arch_for_our_checkpoint(cli, small_model, user_error):
    result = cli("evaluate", small_model, "--arch", "dgcnn")
    user_error(result, "holds a bin-dgcnn-bf2 model")


def test_unknown_architecture_suggests(cli, tmp_path, user_error):
    result = cli("train", "bin-dgcnn-bf3", "--epochs", "0", "-o", tmp_path / "m.pt")
    user_error(result, "unknown architecture 'bin-dgcnn-bf3'")
    assert "did you mean" in result.stderr


def test_bad_widths(cli, tmp_path, user_error):
    result = cli("train", "dgcnn", "--widths", "64,x", "-o", tmp_path / "m.pt")
    user_error(result, "--widths takes comma-separated integers")


def test_missing_data(cli, tmp_path, user_error):
    result = cli(
        "train",
        "dgcnn",
        "--epochs",
        "0",
        *SMALL[:10],
        "--data",
        tmp_path / "no.h5",
        "-o",
        tmp_path / "m.pt",
    )
    user_error(result, "data not found")


def test_more_labels_than_classes(cli, tmp_path, user_error):
    import h5py

    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("data", data=np.zeros((4, 48, 3), dtype=np.float32))
        f.create_dataset("label", data=np.array([[0], [1], [5], [2]], dtype=np.uint8))
    result = cli(
        "train",
        "dgcnn",
        "--epochs",
        "0",
        *SMALL[:8],
        "--classes",
        "3",
        "--data",
        tmp_path / "d.h5",
        "-o",
        tmp_path / "m.pt",
    )
    user_error(result, "labels up to 5")


def test_help_fits_80_columns_without_cutting_names(cli, monkeypatch):
    """Every option's full name is there (rich's boxes cut them: '--accept-new-hos…')."""
    monkeypatch.setenv("COLUMNS", "80")
    for command in ("run", "convert", "train", "evaluate", "verify"):
        text = cli(command, "--help").stdout
        assert max(len(line) for line in text.splitlines()) <= 80, command
        assert "…" not in text, command
    assert "--accept-new-host-key" in cli("run", "--help").stdout
