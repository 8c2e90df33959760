"""Our checkpoint format: round trips, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.errors import CheckpointError
from bgnn_deploy.models import ModelConfig, build_model
from bgnn_deploy.models.checkpoint import load_checkpoint, save_checkpoint

CFG = ModelConfig(
    arch="bin-dgcnn-bf2",
    num_points=40,
    k=5,
    widths=(8, 16),
    emb=16,
    mlp=(16,),
    classes=3,
    knn="hamming",
)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(CFG)
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        model(torch.randn(8, 40, 3))
    model.eval()
    path = tmp_path / "model.pt"
    save_checkpoint(model, path, meta={"epochs": 3})
    return model, path


def test_round_trip_gives_identical_logits_and_config(saved):
    model, path = saved
    loaded = load_checkpoint(path)
    assert loaded.config == CFG
    assert loaded.meta == {"epochs": 3}
    assert loaded.source_format == "bgnn-deploy"
    assert not loaded.model.training
    x = torch.randn(2, 40, 3)
    with torch.no_grad():
        np.testing.assert_array_equal(loaded.model(x).numpy(), model(x).numpy())


def test_checkpoint_is_loadable_without_unpickling_code(saved):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "bgnn-deploy" and payload["config"]["arch"] == CFG.arch


def test_save_leaves_no_temporary_files(saved, tmp_path):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_points_can_be_overridden(saved):
    _, path = saved
    assert load_checkpoint(path, sizes={"num_points": 64}).config.num_points == 64


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="model file not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(CheckpointError, match="got a directory"):
        load_checkpoint(tmp_path)


def test_truncated_file(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(cut)


def test_text_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(path)


def test_pytorch_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a model checkpoint"):
        load_checkpoint(path)


def test_arch_given_for_our_checkpoint_must_match(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="holds a bin-dgcnn-bf2 model, not dgcnn"):
        load_checkpoint(path, arch="dgcnn")


def test_unknown_version(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    other = tmp_path / "v99.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="checkpoint version 99"):
        load_checkpoint(other)


def test_state_dict_that_does_not_fit_its_config(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["embed.0.weight"]
    other = tmp_path / "damaged.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match=r"embed\.0\.weight"):
        load_checkpoint(other)


def test_unclamped_latent_weights_are_clamped_with_a_note(saved, tmp_path):
    """A file whose latent binary weights were never clamped: loading clamps them to
    [-1, 1] (as the binary forward does) without changing the binary model's logits."""
    from bgnn_deploy.models.binary import PointwiseConv
    from bgnn_deploy.models.dgcnn import build_dgcnn

    model, _ = saved
    binary = [m for m in model.modules() if isinstance(m, PointwiseConv) and m.binary_weights]
    with torch.no_grad():
        for m in binary:
            m.weight.mul_(4.0)
    outside = sum(int((m.weight.abs() > 1).sum()) for m in binary)
    assert outside > 0
    path = tmp_path / "unclamped.pt"
    save_checkpoint(model, path)
    loaded = load_checkpoint(path)
    (note,) = loaded.notes
    assert note.startswith(f"{outside} of {sum(m.weight.numel() for m in binary)} latent")
    for m in loaded.model.modules():
        if isinstance(m, PointwiseConv) and m.binary_weights:
            assert float(m.weight.detach().abs().max()) <= 1.0
    as_saved = build_dgcnn(CFG)  # the saved weights, loaded without bgnn-deploy's loader
    as_saved.load_state_dict(model.state_dict())
    x = torch.randn(2, 40, 3)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), as_saved.eval()(x), rtol=0, atol=0)
    assert load_checkpoint(tmp_path / "unclamped.pt").notes  # the file itself is untouched
