"""Parity: prove that converted models compute what the source model computes.

For every sample, the PyTorch reference runs next to each converted form, and we
compare logits (argmax, max abs and relative difference), the k-NN indices of every
EdgeConv layer, and the ±1 node features of binary layers (bit for bit). Differences
in layers with float distances are accepted only where the two candidate distances tie
within float rounding, and differing ±1 features only where the reference's value
before the sign is zero within float rounding; such rows and features are counted and
reported, never hidden, and the layers after them (which see legitimately different
inputs) are not judged. Nor are the logits of a sample with such a near tie: one
neighbour swapped at a tie can move the logits and even the argmax of two correct
implementations; those samples are counted (``argmax_differs_at_near_ties``) and the
report says the differences are at near ties only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from bgnn_deploy.models.binary import Binarize
from bgnn_deploy.models.dgcnn import DGCNN
from bgnn_deploy.models.knn import knn_indices, l2_distances

__all__ = ["LayerParity", "ParityReport", "compare_layers", "finish", "logit_stats", "torch_trace"]

FLOAT_LOGIT_RTOL = 1e-4
NEAR_TIE_RTOL = 1e-5


@dataclass
class LayerParity:
    layer: int
    metric: str
    index_agreement: float  # share of (point, neighbour) slots equal
    rows_differing: int
    rows_near_tie: int  # differing rows explained by distances equal within rounding
    feature_agreement: float | None  # share of equal ±1 node features (binary layers)
    # differing ±1 features whose reference value before the sign is zero within float
    # rounding (e.g. a median-balanced feature): counted, accepted, never hidden
    features_near_zero: int = 0
    features_differing: int = 0


@dataclass
class ParityReport:
    """One reference-vs-implementation comparison over ``samples`` clouds."""

    name: str  # e.g. "binary.tflite (LCE interpreter)"
    samples: int = 0
    argmax_agreement: float = 1.0
    max_abs_logit_diff: float = 0.0
    max_rel_logit_diff: float = 0.0
    knn_index_agreement: float | None = None
    layers: list[LayerParity] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # samples whose k-NN or ±1 features differ at rounding-level near ties only, and of
    # those the ones whose argmax differs (not failures: both implementations are right)
    near_tie_samples: int = 0
    argmax_differs_at_near_ties: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def differences(self) -> str:
        """``none``, ``near-ties-only`` (every difference at a rounding-level tie) or
        ``mismatch`` (a failure)."""
        if self.failures:
            return "mismatch"
        return "near-ties-only" if self.near_tie_samples else "none"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["differences"] = self.differences
        return data


@torch.no_grad()
def torch_trace(model: DGCNN, points: np.ndarray) -> dict[str, np.ndarray]:
    """Logits, per-layer k-NN indices and node features of one cloud ``(1, N, 3)``."""
    captured: dict[str, np.ndarray] = {}
    hooks = []
    for i, layer in enumerate(model.edge_convs):

        def hook(module, inputs, output, i=i):
            x = inputs[0].transpose(1, 2)
            captured[f"knn{i}"] = knn_indices(x, module.k, module.metric).numpy()
            captured[f"nodes{i}"] = output.transpose(1, 2).numpy()
            captured[f"input{i}"] = x.numpy()

        hooks.append(layer.register_forward_hook(hook))
        if len(layer.node_post) and isinstance(layer.node_post[-1], Binarize):

            def before_sign(module, inputs, output, i=i):
                captured[f"presign{i}"] = inputs[0].transpose(1, 2).numpy()

            hooks.append(layer.node_post[-1].register_forward_hook(before_sign))
    try:
        captured["logits"] = model(torch.from_numpy(points)).numpy()
    finally:
        for h in hooks:
            h.remove()
    return captured


def _near_tie_row(dist_row: np.ndarray, ref: np.ndarray, got: np.ndarray, tol: float) -> bool:
    """Both neighbour lists are sorted by distance: they agree up to rounding if the
    distances, position by position, are equal within ``tol``."""
    return bool(np.all(np.abs(dist_row[ref] - dist_row[got]) <= tol))


def _rounding_tolerance(x: np.ndarray, other_x: np.ndarray | None, dist: np.ndarray) -> float:
    """How far two implementations' squared distances may drift by rounding alone.

    The layer's own arithmetic: NEAR_TIE_RTOL of the distance scale. Inherited rounding:
    when the two saw inputs differing by at most delta per row (L2), each squared
    distance moves by at most 8 R delta + 4 delta^2 (R: the largest row norm), and a
    positional comparison of two sorted lists by twice that.
    """
    tol = NEAR_TIE_RTOL * max(1.0, float(np.abs(dist).max()))
    if other_x is not None:
        delta = float(np.linalg.norm(x - other_x, axis=-1).max())
        radius = float(np.linalg.norm(x, axis=-1).max())
        tol += 2.0 * (8.0 * radius * delta + 4.0 * delta * delta)
    return tol


def compare_layers(
    ref: dict[str, np.ndarray], got: dict[str, np.ndarray], metrics: list[str], binary: list[bool]
) -> list[LayerParity]:
    """Per-layer k-NN and node-feature agreement for one sample."""
    out = []
    for i, metric in enumerate(metrics):
        a, b = ref[f"knn{i}"][0], got[f"knn{i}"][0].astype(np.int64)
        differing = np.flatnonzero(np.any(a != b, axis=1))
        near = 0
        if differing.size and metric == "l2":
            x = ref[f"input{i}"][0].astype(np.float64)
            dist = l2_distances(torch.from_numpy(x[None]))[0].numpy()
            other = got[f"nodes{i - 1}"][0].astype(np.float64) if i > 0 else None
            tol = _rounding_tolerance(x, other, dist)
            near = sum(_near_tie_row(dist[r], a[r], b[r], tol) for r in differing)
        features, near_zero, flipped = None, 0, 0
        if binary[i]:
            same = ref[f"nodes{i}"] == got[f"nodes{i}"]
            features = float(np.mean(same))
            flipped = int(np.sum(~same))
            if f"presign{i}" in ref and not same.all():
                pre = ref[f"presign{i}"]
                tol = NEAR_TIE_RTOL * max(1.0, float(np.abs(pre).max()))
                near_zero = int(np.sum(~same & (np.abs(pre) <= tol)))
        out.append(
            LayerParity(
                i,
                metric,
                float(np.mean(a == b)),
                int(differing.size),
                int(near),
                features,
                near_zero,
                flipped,
            )
        )
    return out


def merge_layers(per_sample: list[list[LayerParity]]) -> list[LayerParity]:
    """Aggregate per-sample layer results (means of agreements, sums of row counts)."""
    merged = []
    for rows in zip(*per_sample, strict=True):
        feats = [r.feature_agreement for r in rows if r.feature_agreement is not None]
        merged.append(
            LayerParity(
                rows[0].layer,
                rows[0].metric,
                float(np.mean([r.index_agreement for r in rows])),
                sum(r.rows_differing for r in rows),
                sum(r.rows_near_tie for r in rows),
                float(np.mean(feats)) if feats else None,
                sum(r.features_near_zero for r in rows),
                sum(r.features_differing for r in rows),
            )
        )
    return merged


def judge(
    report: ParityReport,
    *,
    float_logits: bool,
    agree: list[bool] | None = None,
    rel_d: list[float] | None = None,
    tied: list[bool] | None = None,
) -> None:
    """Apply the targets; record every shortfall, naming the first layer that disagrees.
    The logits of samples ``tied`` at a near tie are not judged (they are counted)."""
    agree = agree if agree is not None else [report.argmax_agreement == 1.0]
    rel_d = rel_d if rel_d is not None else [report.max_rel_logit_diff]
    tied = tied if tied is not None else [False] * len(agree)
    judged = [(a, r) for a, r, t in zip(agree, rel_d, tied, strict=True) if not t]
    report.near_tie_samples = sum(tied)
    report.argmax_differs_at_near_ties = sum(not a for a, t in zip(agree, tied, strict=True) if t)
    wrong = sum(not a for a, _ in judged)
    if wrong:
        report.failures.append(
            f"argmax agrees on {report.argmax_agreement:.1%} of samples (target 100%); "
            f"{wrong} without a near tie"
        )
    worst = max((r for _, r in judged), default=0.0)
    if float_logits and worst > FLOAT_LOGIT_RTOL:
        report.failures.append(
            f"logits differ by {worst:.2e} relative (target {FLOAT_LOGIT_RTOL:g})"
        )
    for layer in report.layers:
        unexplained = layer.rows_differing - layer.rows_near_tie
        if layer.metric == "hamming" and layer.rows_differing:
            report.failures.append(
                f"layer {layer.layer}: Hamming k-NN differs in {layer.rows_differing} rows "
                "(target: identical); first layer that disagrees"
            )
            break
        if unexplained:
            report.failures.append(
                f"layer {layer.layer}: k-NN differs in {unexplained} rows beyond float-rounding "
                "ties; first layer that disagrees"
            )
            break
        flips = layer.feature_agreement is not None and layer.feature_agreement < 1.0
        if flips and not _flips_explained(layer):
            report.failures.append(
                f"layer {layer.layer}: binary node features agree on "
                f"{layer.feature_agreement:.4%} (target: bit-exact); first layer that disagrees"
            )
            break
        if layer.rows_near_tie or flips:
            break  # later layers see (legitimately) different inputs: not judged


def _flips_explained(layer: LayerParity) -> bool:
    """Every differing ±1 feature had a reference value of zero within float rounding."""
    return 0 < layer.features_differing == layer.features_near_zero


def logit_stats(ref: np.ndarray, got: np.ndarray) -> tuple[bool, float, float]:
    """(argmax equal, max abs difference, max difference relative to the largest |logit|)."""
    diff = float(np.abs(ref - got).max())
    rel = diff / max(float(np.abs(ref).max()), 1e-12)
    return bool(ref.argmax() == got.argmax()), diff, rel


def finish(
    report: ParityReport,
    agree: list[bool],
    abs_d: list[float],
    rel_d: list[float],
    layers: list[list[LayerParity]] | None,
    *,
    float_logits: bool,
) -> ParityReport:
    """Aggregate per-sample results into ``report`` and judge it; ``layers`` holds each
    sample's per-layer results (a sample with an accepted near tie is ``tied``)."""
    report.samples = len(agree)
    report.argmax_agreement = float(np.mean(agree)) if agree else 1.0
    report.max_abs_logit_diff = max(abs_d, default=0.0)
    report.max_rel_logit_diff = max(rel_d, default=0.0)
    if layers:
        report.layers = merge_layers(layers)
        report.knn_index_agreement = float(np.mean([lp.index_agreement for lp in report.layers]))
    tied = [_tied_sample(sample) for sample in layers] if layers else None
    judge(report, float_logits=float_logits, agree=agree, rel_d=rel_d, tied=tied)
    return report


def _tied_sample(layers: list[LayerParity]) -> bool:
    """The first layer of the sample that differs at all differs only at rounding-level
    near ties (rows whose distances tie, ±1 features whose value before the sign is zero):
    every difference after it may follow from it."""
    for layer in layers:
        if layer.rows_differing or layer.features_differing:
            return (
                layer.rows_differing == layer.rows_near_tie
                and layer.features_differing == layer.features_near_zero
            )
    return False
