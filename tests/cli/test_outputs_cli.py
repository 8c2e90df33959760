"""Commands never destroy user data: an existing output is refused unless --overwrite, and
even then only the command's own files are replaced (convert, train, evaluate, export)."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import SMALL

CONVERT_FILES = {"binary.tflite", "float.tflite", "model.onnx", "report.json"}


@pytest.fixture
def crowded(tmp_path, tiny_checkpoint_bytes):
    """An output folder that holds the checkpoint being converted, an unrelated file and
    an earlier binary.tflite: (folder, checkpoint)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.pt").write_bytes(tiny_checkpoint_bytes)
    (out / "notes.txt").write_text("the user's notes\n")
    (out / "binary.tflite").write_bytes(b"an earlier conversion")
    return out, out / "model.pt"


def test_convert_refuses_a_folder_with_files(cli, crowded, snapshot, tmp_path, user_error):
    out, model = crowded
    before = snapshot(tmp_path)
    result = cli("convert", model, "-o", out, "--samples", "1")
    user_error(result, f"{out} already exists and holds 3 files")
    assert "hint: --overwrite" in result.stderr
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder


def test_convert_overwrite_replaces_only_its_own_files(cli, crowded, snapshot, tmp_path):
    out, model = crowded
    before = snapshot(out)
    result = cli("convert", model, "-o", out, "--samples", "1", "--overwrite")
    assert result.exit_code == 0, result.output
    after = snapshot(out)
    assert set(after) == CONVERT_FILES | {"model.pt", "notes.txt"}
    assert after["model.pt"] == before["model.pt"]
    assert after["notes.txt"] == before["notes.txt"]
    assert after["binary.tflite"][4:8] == b"TFL3"  # the new flatbuffer, not the earlier file
    assert json.loads(after["report.json"])["verified"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_convert_never_replaces_its_source(cli, tmp_path, snapshot, user_error):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"an ONNX model from other code")
    before = snapshot(tmp_path)
    result = cli("convert", out / "model.onnx", "-o", out, "--overwrite")
    user_error(result, "is an input of this command and would be replaced")
    assert snapshot(tmp_path) == before


def test_convert_into_the_current_folder_is_refused(
    cli, tmp_path, monkeypatch, tiny_checkpoint_bytes, snapshot, user_error
):
    (tmp_path / "model.pt").write_bytes(tiny_checkpoint_bytes)
    (tmp_path / "thesis.tex").write_text("years of work\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        result = cli("convert", "model.pt", "-o", ".", "--samples", "1", *extra)
        user_error(result, ". is the current folder")
        assert snapshot(tmp_path) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "thesis.tex"]


def test_convert_to_an_existing_file(cli, tmp_path, tiny_checkpoint_bytes, user_error):
    (tmp_path / "model.pt").write_bytes(tiny_checkpoint_bytes)
    (tmp_path / "taken").write_text("a file\n")
    result = cli("convert", tmp_path / "model.pt", "-o", tmp_path / "taken", "--overwrite")
    user_error(result, "taken exists and is not a folder")
    assert (tmp_path / "taken").read_text() == "a file\n"


def test_train_refuses_an_existing_checkpoint(cli, tmp_path, user_error):
    path = tmp_path / "m.pt"
    path.write_bytes(b"a checkpoint trained for a week")
    args = ("train", "dgcnn", "--epochs", "0", *SMALL, "-o", path)
    user_error(cli(*args), f"{path} already exists")
    assert path.read_bytes() == b"a checkpoint trained for a week"
    result = cli(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:2] == b"PK"  # a torch.save zip now
    user_error(cli("train", "dgcnn", "--epochs", "0", *SMALL, "-o", tmp_path), "is a folder")


def test_evaluate_refuses_existing_logits(cli, tmp_path, tiny_checkpoint_bytes, user_error):
    model = tmp_path / "model.pt"
    model.write_bytes(tiny_checkpoint_bytes)
    logits = tmp_path / "logits.npy"
    logits.write_bytes(b"earlier logits")
    args = ("evaluate", model, "--samples", "2", "--save-logits", logits)
    user_error(cli(*args), f"{logits} already exists")
    assert logits.read_bytes() == b"earlier logits"
    result = cli(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert logits.read_bytes().startswith(b"\x93NUMPY")
    user_error(cli(*args[:-1], tmp_path, "--overwrite"), "is a folder")


def test_results_export_refuses_an_existing_file_and_the_database(cli, tmp_path, user_error):
    db = tmp_path / "runs.sqlite"
    out = tmp_path / "runs.json"
    out.write_text("earlier export\n")
    user_error(cli("results", "export", "--db", db, "-o", out), f"{out} already exists")
    assert out.read_text() == "earlier export\n"
    result = cli("results", "export", "--db", db, "-o", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == []
    user_error(cli("results", "export", "--db", db, "-o", db, "--overwrite"), "is an input")
    user_error(cli("results", "export", "--db", db, "-o", tmp_path), "is a folder")


@pytest.mark.parametrize("command", ["convert", "train", "evaluate", "export"])
def test_unwritable_output_is_one_clean_error(
    cli, tmp_path, tiny_checkpoint_bytes, command, user_error
):
    """An output under a regular file cannot be made (even by root)."""
    model = tmp_path / "model.pt"
    model.write_bytes(tiny_checkpoint_bytes)
    (tmp_path / "somefile").write_text("in the way\n")
    target = tmp_path / "somefile" / "out"
    args = {
        "convert": ("convert", model, "-o", target, "--overwrite"),
        "train": ("train", "dgcnn", "--epochs", "0", *SMALL, "-o", target, "--overwrite"),
        "evaluate": ("evaluate", model, "--samples", "2", "--save-logits", target),
        "export": ("results", "export", "--db", tmp_path / "r.sqlite", "-o", target),
    }[command]
    result = cli(*args)
    user_error(result, f"cannot write {target}")
    assert "somefile is a file, not a folder" in result.stderr
    assert (tmp_path / "somefile").read_text() == "in the way\n"
