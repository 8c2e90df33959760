"""Logits of a model against logits from the user's own code, and the k-NN ties that
explain differences between them.

Implementations of a DGCNN agree on every neighbour except where distances tie at the
k-th place: there each picks its own, and the logits move. bgnn-deploy keeps the lower
point index (``bgnn_deploy.models.knn``); the paper's code uses ``torch.topk``, which
keeps neither the lowest nor the highest. Binary (Hamming) layers tie at most rows,
since their distances are small integers: logits of two correct implementations then
differ, sometimes in the argmax. ``rows_tied_at_k`` counts the rows (points, over every
EdgeConv layer and sample) where the k-th and the (k+1)-th nearest distances are equal:
where the neighbour set depends on the tie rule.

    >>> import numpy as np
    >>> d = np.array([[0., 1., 1., 2.], [0., 1., 2., 3.]])  # sorted distances, 2 rows
    >>> int(tied_at_k(d, k=2).sum())  # row 0: the 2nd and 3rd nearest are both at 1
    1
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bgnn_deploy.errors import DataError

__all__ = ["LogitComparison", "compare_logits", "count_ties", "tied_at_k"]


@dataclass(frozen=True)
class LogitComparison:
    """The ``compare`` object of ``evaluate --compare-logits --json``."""

    reference: str
    samples: int
    max_abs_diff: float
    argmax_agreement: float
    rows_tied_at_k: int | None  # None: the model's layers are not at hand (a .tflite)
    rows: int | None  # the rows examined for ties (points x layers x samples)
    rows_tied_at_k_by_layer: list[int] | None

    def to_dict(self) -> dict:
        return asdict(self)


def tied_at_k(sorted_dist: np.ndarray, k: int) -> np.ndarray:
    """Per row: whether the k-th and (k+1)-th smallest distances are equal."""
    if sorted_dist.shape[-1] <= k:
        return np.zeros(sorted_dist.shape[:-1], bool)
    return sorted_dist[..., k - 1] == sorted_dist[..., k]


def count_ties(model: torch.nn.Module, clouds: np.ndarray) -> list[int]:
    """Rows tied at the k-th neighbour in each EdgeConv layer of our DGCNN ``model``, over
    ``clouds`` ``(S, N, 3)``, from the distances the layer's k-NN sorts (each in its metric)."""
    from bgnn_deploy.models.knn import hamming_distances, l2_distances

    counts = [0] * len(model.edge_convs)
    hooks = []
    for i, layer in enumerate(model.edge_convs):

        def hook(module, inputs, _output, i=i):
            x = inputs[0].transpose(1, 2)  # (B, N, C)
            dist = hamming_distances(x) if module.metric == "hamming" else l2_distances(x)
            ordered = torch.sort(dist, dim=-1).values.numpy()
            counts[i] += int(tied_at_k(ordered, module.k).sum())

        hooks.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            for cloud in clouds:
                model(torch.from_numpy(np.ascontiguousarray(cloud[None], np.float32)))
    finally:
        for h in hooks:
            h.remove()
    return counts


def compare_logits(
    logits: np.ndarray,
    reference: str | Path,
    *,
    model: torch.nn.Module | None = None,
    clouds: np.ndarray | None = None,
) -> LogitComparison:
    """``logits`` (samples x classes) against the ``.npy`` of the same samples from other
    code; with our ``model`` and the ``clouds``, the k-NN ties counted too."""
    reference = Path(reference)
    try:
        ref = np.load(reference, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"reference logits not found: {reference}") from None
    except (OSError, ValueError) as e:
        raise DataError(f"{reference} is not a NumPy .npy array: {e}") from None
    if ref.shape != logits.shape or not np.issubdtype(ref.dtype, np.number):
        raise DataError(
            f"{reference} holds {ref.dtype} {list(ref.shape)}; the model gave "
            f"{list(logits.shape)} logits (samples x classes)",
            hint="make the reference from the same data, split, --samples and --seed "
            "(evaluate --save-logits writes ours in that layout)",
        )
    ref = ref.astype(np.float64)
    ties = count_ties(model, clouds) if model is not None and clouds is not None else None
    layers = len(ties) if ties is not None else 0
    return LogitComparison(
        reference=str(reference),
        samples=int(logits.shape[0]),
        max_abs_diff=float(np.abs(logits.astype(np.float64) - ref).max()) if ref.size else 0.0,
        argmax_agreement=float(np.mean(logits.argmax(-1) == ref.argmax(-1))) if ref.size else 1.0,
        rows_tied_at_k=sum(ties) if ties is not None else None,
        rows=int(clouds.shape[0] * clouds.shape[1] * layers) if ties is not None else None,
        rows_tied_at_k_by_layer=ties,
    )
