"""`evaluate --compare-logits`: agreement with logits from other code, and the k-NN ties
that explain where two correct implementations differ (issue 13, item 5)."""

from __future__ import annotations

import json

import numpy as np
import torch

from bgnn_deploy.models.checkpoint import load_checkpoint
from bgnn_deploy.models.knn import hamming_distances, l2_distances


def _evaluate(cli, *args):
    result = cli("evaluate", *map(str, args), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _topk_knn(x, k, metric="l2"):
    """The paper code's rule: torch.topk on the negated distances (no tie rule)."""
    dist = hamming_distances(x) if metric == "hamming" else l2_distances(x)
    return torch.topk(-dist, k, dim=-1).indices


def _ties_by_numpy(model, clouds) -> list[int]:
    """The same count, independently: each layer's input captured, distances and the
    k-th/(k+1)-th comparison in NumPy."""
    inputs: dict[int, list] = {i: [] for i in range(len(model.edge_convs))}
    hooks = [
        layer.register_forward_hook(lambda m, a, o, i=i: inputs[i].append(a[0][0].T.numpy()))
        for i, layer in enumerate(model.edge_convs)
    ]
    with torch.no_grad():
        for cloud in clouds:
            model(torch.from_numpy(cloud[None]))
    for h in hooks:
        h.remove()
    counts = []
    for i, layer in enumerate(model.edge_convs):
        total = 0
        for x in inputs[i]:
            x = x.astype(np.float64)
            if layer.metric == "hamming":
                d = (x[:, None, :] != x[None, :, :]).sum(-1)
            else:
                d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
            d = np.sort(d, axis=1)
            total += int((d[:, layer.k - 1] == d[:, layer.k]).sum())
        counts.append(total)
    return counts


def test_compare_against_code_with_another_tie_rule(cli, small_model, tmp_path, monkeypatch):
    ours = tmp_path / "ours.npy"
    _evaluate(cli, small_model, "--samples", "6", "--save-logits", ours)
    same = _evaluate(cli, small_model, "--samples", "6", "--compare-logits", ours)["compare"]
    assert same["max_abs_diff"] == 0 and same["argmax_agreement"] == 1
    loaded = load_checkpoint(small_model)
    from bgnn_deploy.data import load_dataset

    data = load_dataset("synthetic", split="test", num_points=loaded.config.num_points,
                        samples=6, classes=loaded.config.classes, seed=0)  # fmt: skip
    expected = _ties_by_numpy(loaded.model, data.points)
    assert same["rows_tied_at_k_by_layer"] == expected and sum(expected) > 0  # Hamming ties
    assert same["rows_tied_at_k"] == sum(expected)
    assert same["rows"] == 6 * loaded.config.num_points * len(expected)
    # "their code": the same weights with torch.topk's tie order (the paper's)
    import bgnn_deploy.models.dgcnn as dgcnn

    monkeypatch.setattr(dgcnn, "knn_indices", _topk_knn)
    theirs = tmp_path / "theirs.npy"
    _evaluate(cli, small_model, "--samples", "6", "--save-logits", theirs)
    monkeypatch.undo()
    got = _evaluate(cli, small_model, "--samples", "6", "--compare-logits", theirs)["compare"]
    want = np.abs(np.load(ours).astype(np.float64) - np.load(theirs)).max()
    assert got["max_abs_diff"] == want and got["rows_tied_at_k"] == sum(expected)
    text = cli("evaluate", small_model, "--samples", "6", "--compare-logits", theirs)
    assert "k-NN ties at the k-th neighbour" in text.stdout, text.output


def test_a_reference_of_another_shape_is_one_error(cli, user_error, small_model, tmp_path):
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 3), np.float32))
    result = cli("evaluate", small_model, "--samples", "6", "--compare-logits", wrong)
    user_error(result, "holds float32 [5, 3]; the model gave [6, 3] logits")
    missing = cli("evaluate", small_model, "--compare-logits", tmp_path / "nope.npy")
    user_error(missing, "reference logits not found")
