"""`convert`: model -> binary.tflite (LCE) + float.tflite + model.onnx + report.json.

The model is one of our checkpoints, a paper-format checkpoint (with ``arch``), or an
ONNX file of a binary GNN (see ``frontends/onnx_graphs.py``). With ``fuse`` the
binary.tflite is the fast path of ``fusion/`` (our bit-domain ops, then LCE's head),
proved against the source and the portable LCE form. Everything is written to a
temporary folder beside OUT_DIR and moved into place at the end (into an existing
OUT_DIR only with ``overwrite``, replacing only our own files), so OUT_DIR never
holds a half-written conversion. When the parity checks fail the files are still
delivered, for inspection, with ``report.json`` saying ``"verified": false``, and
:class:`VerificationError` is raised (unless ``verify=False``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bgnn_deploy.converters.backends import get_backend
from bgnn_deploy.converters.frontends import frontend_for
from bgnn_deploy.converters.frontends.base import Trace
from bgnn_deploy.converters.fusion.flatbuffer import FUSED_OPS, fuse_model, head_model
from bgnn_deploy.converters.fusion.plan import FusedPlan, plan_fusion
from bgnn_deploy.converters.fusion.reference import run_front
from bgnn_deploy.converters.ir import Sign
from bgnn_deploy.converters.knn_fusion import fuse_hamming_knn
from bgnn_deploy.converters.onnx_export import run_onnx
from bgnn_deploy.converters.parity import (
    ParityReport,
    compare_layers,
    finish,
    logit_stats,
)
from bgnn_deploy.converters.tflite_model import summarize
from bgnn_deploy.converters.tflite_runtime import HostInterpreter

from bgnn_deploy.data import load_clouds
from bgnn_deploy.errors import BgnnDeployError, ConfigError
from bgnn_deploy.outputs import check_output_dir, publish_dir
from bgnn_deploy.progress import StageFn, Stages

__all__ = ["KNN_MODES", "ConversionReport", "VerificationError", "convert_checkpoint"]

KNN_MODES = ("builtin", "fused")


class VerificationError(BgnnDeployError):
    """The converted models were written but do not match the source model."""

    exit_code = 1


@dataclass
class ConversionReport:
    out_dir: Path
    arch: str
    files: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return bool(self.data.get("verified"))


def _judge(name, pairs, metrics, binary_layers, *, float_logits) -> ParityReport:
    """One report from (reference, converted) outputs of each cloud."""
    agree, abs_d, rel_d, layers = [], [], [], []
    for ref, got in pairs:
        same, a, r = logit_stats(ref["logits"], got["logits"])
        agree.append(same)
        abs_d.append(a)
        rel_d.append(r)
        layers.append(compare_layers(ref, got, metrics, binary_layers))
    return finish(ParityReport(name), agree, abs_d, rel_d, layers, float_logits=float_logits)


def _parity_tflite(name, interp, trace, clouds, metrics, binary_layers, *, float_logits):
    pairs = [(trace(cloud[None]), interp.run(cloud[None])) for cloud in clouds]
    return _judge(name, pairs, metrics, binary_layers, float_logits=float_logits)


def _parity_onnx(runner, trace: Trace, clouds) -> ParityReport:
    agree, abs_d, rel_d = [], [], []
    for cloud in clouds:
        same, a, r = logit_stats(trace(cloud[None])["logits"], runner.run(cloud[None]))
        agree.append(same)
        abs_d.append(a)
        rel_d.append(r)
    return finish(
        ParityReport("model.onnx (ONNX Runtime)"), agree, abs_d, rel_d, None, float_logits=False
    )


def _parity_fused(
    plan: FusedPlan,
    head: HostInterpreter,
    portable: HostInterpreter,
    trace: Trace,
    clouds,
    metrics,
    name: str,
) -> tuple[ParityReport, ParityReport]:
    """The fused ops (their NumPy reference, then the head in LCE's interpreter) against
    the source model and against the portable LCE form: same k-NN, bit-exact ±1 node
    features, argmax 100%, logits within 1e-4 relative."""
    binary_layers = [True] * len(plan.layers)
    to_source, to_portable = [], []
    for cloud in clouds:
        front = run_front(plan, cloud)
        got = {key: value[None] for key, value in front.items()}
        got["logits"] = head.run(front["pooled"][None])["logits"]
        ref = portable.run(cloud[None])
        inputs = [cloud[None]] + [ref[f"nodes{i}"] for i in range(len(metrics) - 1)]
        ref.update({f"input{i}": x for i, x in enumerate(inputs)})  # for near-tie checks
        to_source.append((trace(cloud[None]), got))
        to_portable.append((ref, got))
    return (
        _judge(
            f"binary.tflite (fused) vs {name}", to_source, metrics, binary_layers, float_logits=True
        ),
        _judge(
            "binary.tflite (fused) vs the portable LCE form",
            to_portable,
            metrics,
            binary_layers,
            float_logits=True,
        ),
    )


def convert_checkpoint(
    model_path: str | Path,
    out_dir: str | Path,
    *,
    arch: str | None = None,
    sizes: dict[str, Any] | None = None,
    knn: str = "builtin",
    data: str = "synthetic",
    samples: int = 8,
    seed: int = 0,
    verify: bool = True,
    progress: StageFn | None = None,
    overwrite: bool = False,
    fuse: bool = False,
    frontend: str | None = None,
    backend: str = "lce",
) -> ConversionReport:
    """Convert a model and prove the results against it. See the module docstring.

    ``out_dir`` may be new or empty; one that holds files is written into only with
    ``overwrite=True``, and then only the files convert writes are replaced there
    (never the model itself, nothing else: :mod:`bgnn_deploy.outputs`).

    ``fuse`` writes ``binary.tflite`` with our bit-domain ops (``converters/fusion``,
    for our runner; it implies the fused k-NN) instead of the portable LCE form.

    ``frontend`` names the frontend that reads the model (``converters.frontends.
    FRONTENDS``); by default the file's kind decides. ``backend`` names the backend that
    writes the flatbuffers (``converters.backends.BACKENDS``).

    ``progress`` hears each stage start and end (:mod:`bgnn_deploy.progress`): loading
    the model, LCE conversion, fusion, ONNX export, the float baseline, then each
    parity check; without it convert is silent."""
    if knn not in KNN_MODES:
        raise ConfigError(
            f"unknown --knn mode '{knn}' (valid: {', '.join(KNN_MODES)})",
            hint="--knn says how the Hamming k-NN is written; the metric of a paper checkpoint "
            f"is --knn-metric {knn}"
            if knn in ("l2", "hamming")
            else None,
        )
    if samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {samples}")
    write = get_backend(backend)
    stages = Stages(progress)
    out_dir = Path(out_dir)
    ours = ("binary.tflite", "float.tflite", "model.onnx", "report.json")  # report.json last
    check_output_dir(out_dir, ours, overwrite=overwrite, inputs=[model_path])
    started = time.perf_counter()

    with stages.stage("loading the model"):
        source = frontend_for(model_path, frontend)(Path(model_path), arch=arch, sizes=sizes)
        description = source.description
        clouds = load_clouds(
            data, num_points=source.num_points, samples=samples, classes=source.classes, seed=seed
        )
    metrics = [layer.metric for layer in description.edge_convs]
    plan = None
    if fuse:
        if not description.is_binary:
            raise ConfigError(
                f"--fuse needs a binary model; {source.arch} is float",
                hint="convert it without --fuse",
            )
        plan = plan_fusion(description)
        knn = "fused"
    on_clouds = f"({len(clouds)} clouds)"

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files: dict[str, str] = {}
        parity: dict[str, ParityReport] = {}
        summaries: dict[str, dict] = {}
        fused = 0
        if description.is_binary:
            with stages.stage("LCE conversion"):
                binary_fb = write(description, binary=True)
                debug_fb = write(description, binary=True, debug=True)
            portable_fb = binary_fb
            if plan is not None:
                with stages.stage("fusion"):
                    binary_fb = fuse_model(portable_fb, plan)
                fused = len(plan.layers) - 1
            elif knn == "fused":
                with stages.stage("k-NN fusion"):
                    binary_fb, fused = fuse_hamming_knn(binary_fb)
            (work / "binary.tflite").write_bytes(binary_fb)
            files["binary"] = "binary.tflite"
            summaries["binary"] = summarize(binary_fb).to_dict()
            if source.export_onnx is not None:
                with stages.stage("ONNX export"):
                    source.export_onnx(work / "model.onnx")
                files["onnx"] = "model.onnx"

        with stages.stage("float baseline"):
            baseline = description.float_baseline() if description.is_binary else description
            float_fb = write(baseline, binary=False)
        (work / "float.tflite").write_bytes(float_fb)
        files["float"] = "float.tflite"
        summaries["float"] = summarize(float_fb).to_dict()

        if description.is_binary:
            binary_layers = [
                bool(layer.node_ops) and isinstance(layer.node_ops[-1], Sign)
                for layer in description.edge_convs
            ]
            checked = "the portable LCE form" if plan is not None else "binary.tflite"
            with stages.stage(f"parity: {checked} {on_clouds}"):
                parity["binary"] = _parity_tflite(
                    (
                        "the portable LCE form (LCE interpreter)"
                        if plan is not None
                        else "binary.tflite (LCE interpreter, builtin k-NN)"
                    )
                    + f" vs {source.reference_name}",
                    HostInterpreter(debug_fb, lce=True),
                    source.trace,
                    clouds,
                    metrics,
                    binary_layers,
                    float_logits=False,
                )
            if plan is not None:
                with stages.stage(f"parity: the fused ops {on_clouds}"):
                    parity["fused"], parity["fused_vs_portable"] = _parity_fused(
                        plan,
                        HostInterpreter(head_model(portable_fb), lce=True),
                        HostInterpreter(debug_fb, lce=True),
                        source.trace,
                        clouds,
                        metrics,
                        source.reference_name,
                    )
            if "onnx" in files:
                with stages.stage(f"parity: model.onnx {on_clouds}"):
                    parity["onnx"] = _parity_onnx(
                        run_onnx(work / "model.onnx"), source.trace, clouds
                    )
        if source.float_trace is not None:
            with stages.stage(f"parity: float.tflite {on_clouds}"):
                float_debug = write(baseline, binary=False, debug=True)
                parity["float"] = _parity_tflite(
                    f"float.tflite (TFLite interpreter) vs {source.reference_name}",
                    HostInterpreter(float_debug, lce=False),
                    source.float_trace,
                    clouds,
                    [layer.metric for layer in baseline.edge_convs],
                    [False] * len(baseline.edge_convs),
                    float_logits=True,
                )

        primary = parity.get("fused") or parity.get("binary") or parity["float"]
        failures = [f"{p.name}: {f}" for p in parity.values() for f in p.failures]
        macs = summaries.get("binary", summaries["float"])["macs"]
        total_macs = macs["binary"] + macs["float"]
        report = {
            "model": str(model_path),
            "arch": source.arch,
            "config": source.config,
            "knn_mode": knn if description.is_binary else "builtin",
            "fused_knn_ops": fused,
            "fused": plan is not None,
            "fused_ops": (
                {op: summaries["binary"]["ops"].get(op, 0) for op in FUSED_OPS}
                if plan is not None
                else {}
            ),
            "files": files,
            "size_bytes": {key: summaries[key]["size_bytes"] for key in summaries},
            "ops": {key: summaries[key]["ops"] for key in summaries},
            "macs": {**macs, "binary_share": macs["binary"] / total_macs if total_macs else 0.0},
            "macs_by_model": {key: summaries[key]["macs"] for key in summaries},
            "parity": {
                "samples": primary.samples,
                "data": data,
                "reference": source.reference_name,
                "argmax_agreement": primary.argmax_agreement,
                "knn_index_agreement": primary.knn_index_agreement,
                "max_abs_logit_diff": primary.max_abs_logit_diff,
                "checks": {key: p.to_dict() for key, p in parity.items()},
                "unchecked": []
                if "float" in parity
                else [source.float_unchecked or "float.tflite: the source has no float model"],
                "failures": failures,
                # none | near-ties-only (every difference at a rounding-level tie: verified,
                # the samples counted per check) | mismatch
                "differences": "mismatch"
                if failures
                else "near-ties-only"
                if any(p.near_tie_samples for p in parity.values())
                else "none",
            },
            "notes": list(source.notes),
            "verified": not failures,
            "seconds": round(time.perf_counter() - started, 2),
        }
        (work / "report.json").write_text(json.dumps(report, indent=2, default=_jsonable) + "\n")
        publish_dir(work, out_dir, ours, overwrite=overwrite, inputs=[model_path])
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    result = ConversionReport(out_dir, source.arch, files, report)
    if failures and verify:
        raise VerificationError(
            "the converted model does not match the source: " + "; ".join(failures),
            hint=f"details in {out_dir / 'report.json'}; --no-verify accepts it anyway",
        )
    return result


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)
