"""Paper-format checkpoints give the paper code's logits (see paper_fixtures.py for how
those logits were produced), and a checkpoint that does not fit fails clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.errors import CheckpointError
from bgnn_deploy.models.checkpoint import load_checkpoint
from tests.models.paper_fixtures import (
    fixture_sizes,
    load_fixture,
    seeded_points,
    write_paper_checkpoint,
)

ARCHS = ["dgcnn", "bin-dgcnn-rf", "bin-dgcnn-bf1", "bin-dgcnn-bf2"]


def _paper_file(tmp_path, fx: dict, *, data_parallel: bool = True) -> str:
    return str(write_paper_checkpoint(tmp_path / "model.t7", fx, data_parallel=data_parallel))


_sizes = fixture_sizes


@pytest.mark.parametrize("arch", ARCHS)
def test_paper_checkpoint_reproduces_paper_logits(tmp_path, arch):
    fx = load_fixture(arch)
    loaded = load_checkpoint(_paper_file(tmp_path, fx), arch=arch, sizes=_sizes(fx))
    assert loaded.source_format == "paper"
    points = torch.from_numpy(seeded_points(fx["batch"], fx["num_points"], fx["points_seed"]))
    with torch.no_grad():
        logits = loaded.model(points).numpy()
    expected = np.asarray(fx["logits"], dtype=np.float32)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert (logits.argmax(1) == expected.argmax(1)).all()


def test_binary_features_of_fixture_are_not_degenerate(tmp_path):
    """Guards the test above: all-equal signs would make k-NN and XOR untested."""
    fx = load_fixture("bin-dgcnn-bf1")
    model = load_checkpoint(_paper_file(tmp_path, fx), arch="bin-dgcnn-bf1", sizes=_sizes(fx)).model
    x = torch.from_numpy(seeded_points(fx["batch"], fx["num_points"], fx["points_seed"]))
    x = x.transpose(1, 2)
    with torch.no_grad():
        for layer in model.edge_convs:
            x = layer(x)
            share = (x > 0).float().mean().item()
            assert 0.1 < share < 0.9, share


def test_checkpoint_without_module_prefix_loads(tmp_path):
    fx = load_fixture("bin-dgcnn-bf2")
    path = _paper_file(tmp_path, fx, data_parallel=False)
    load_checkpoint(path, arch="bin-dgcnn-bf2", sizes=_sizes(fx))


def test_wrong_sizes_name_the_mismatching_tensors(tmp_path):
    fx = load_fixture("bin-dgcnn-bf1")
    path = _paper_file(tmp_path, fx)
    sizes = {**_sizes(fx), "emb": 64}
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, arch="bin-dgcnn-bf1", sizes=sizes)
    message = str(err.value)
    assert "conv5.0.weights_real (32, 512, 1) != expected (64, 512)" in message
    assert "bn5.running_mean" in message


def test_wrong_architecture_lists_missing_and_unexpected(tmp_path):
    fx = load_fixture("bin-dgcnn-rf")
    path = _paper_file(tmp_path, fx)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, arch="bin-dgcnn-bf1", sizes=_sizes(fx))
    message = str(err.value)
    assert "missing: " in message and "conv1.0.weights_real" in message
    assert "unexpected: " in message and "conv1.center.weight" in message


def test_paper_checkpoint_needs_an_architecture(tmp_path):
    fx = load_fixture("bin-dgcnn-bf1")
    with pytest.raises(CheckpointError, match="plain state_dict"):
        load_checkpoint(_paper_file(tmp_path, fx))


@pytest.mark.parametrize(("arch", "other"), [("bin-dgcnn-bf1", "bf2"), ("bin-dgcnn-bf2", "bf1")])
def test_bf1_and_bf2_paper_files_say_they_cannot_be_told_apart(tmp_path, arch, other):
    fx = load_fixture("bin-dgcnn-bf2")
    loaded = load_checkpoint(_paper_file(tmp_path, fx), arch=arch, sizes=_sizes(fx))
    assert any(f"not bin-dgcnn-{other}" in n and "--compare-logits" in n for n in loaded.notes)
    rf = load_fixture("bin-dgcnn-rf")
    plain = load_checkpoint(_paper_file(tmp_path, rf), arch="bin-dgcnn-rf", sizes=_sizes(rf))
    assert not any("BF1 and BF2" in n for n in plain.notes)
