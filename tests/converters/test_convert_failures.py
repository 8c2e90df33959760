"""A failed conversion never leaves a half-written OUT_DIR; a failed check is loud."""

from __future__ import annotations

import json

import pytest
from bgnn_deploy.converters.convert import VerificationError, convert_checkpoint
from bgnn_deploy.converters.frontends import torch_models as torch_frontend

from bgnn_deploy.errors import CheckpointError, ConfigError, ConversionError
from bgnn_deploy.models import ModelConfig
from tests.converters.conftest import calibrated_checkpoint

TINY = ModelConfig(
    arch="bin-dgcnn-bf1",
    knn="hamming",
    num_points=40,
    k=5,
    widths=(8, 8),
    emb=8,
    mlp=(8,),
    classes=3,
)


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "model.pt"
    calibrated_checkpoint(path, TINY)
    return path


def test_error_midway_leaves_no_output_and_keeps_previous(ckpt, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")

    def broken(*args, **kwargs):
        raise ConversionError("simulated converter crash")

    monkeypatch.setattr(torch_frontend, "export_onnx", broken)
    with pytest.raises(ConversionError, match="simulated"):
        convert_checkpoint(ckpt, out, samples=1, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "out"]  # no temp dirs


def test_failed_parity_is_reported_and_raises(ckpt, tmp_path, monkeypatch):
    real = torch_frontend.torch_trace

    def wrong_reference(model, points):
        trace = real(model, points)
        trace["logits"] = -trace["logits"]  # a reference that disagrees on every argmax
        return trace

    monkeypatch.setattr(torch_frontend, "torch_trace", wrong_reference)
    out = tmp_path / "out"
    with pytest.raises(VerificationError, match=r"argmax agrees on 0\.0%"):
        convert_checkpoint(ckpt, out, samples=2)
    report = json.loads((out / "report.json").read_text())
    assert report["verified"] is False and report["parity"]["failures"]
    # --no-verify delivers the same files without raising
    result = convert_checkpoint(ckpt, tmp_path / "out2", samples=2, verify=False)
    assert not result.verified


def test_bad_inputs(tmp_path, ckpt):
    with pytest.raises(CheckpointError, match="model file not found"):
        convert_checkpoint(tmp_path / "missing.pt", tmp_path / "o")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        convert_checkpoint(junk, tmp_path / "o")
    with pytest.raises(ConfigError, match="unknown --knn mode"):
        convert_checkpoint(ckpt, tmp_path / "o", knn="magic")
    assert not (tmp_path / "o").exists()
