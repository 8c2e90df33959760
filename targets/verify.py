"""`bgnn-deploy verify MODEL --target NAME`: the runner on the target vs the host interpreter.

The same clouds go through the runner (our kernels + the target's runtime) and through
LCE's interpreter (binary models) or TFLite's (float models) on this host.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from bgnn_deploy.converters.knn_fusion import FUSED_KNN_OP
from bgnn_deploy.converters.tflite_model import summarize
from bgnn_deploy.converters.tflite_runtime import HostInterpreter
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import read_outputs, run_runner

from bgnn_deploy.data import SHAPES, load_dataset
from bgnn_deploy.errors import CheckpointError, ConfigError

__all__ = ["VerifyResult", "verify_model"]

RTOL = 1e-4


@dataclass
class VerifyResult:
    samples: int
    argmax_agreement: float
    max_abs_diff: float
    bit_exact: bool
    target: str
    emulated: bool
    reference: str

    @property
    def ok(self) -> bool:
        return self.argmax_agreement == 1.0 and self.max_rel_ok

    max_rel_ok: bool = True

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("max_rel_ok")
        data["ok"] = self.ok
        return data


def verify_model(
    model: str | Path,
    target: str,
    *,
    samples: int = 4,
    data: str = "synthetic",
    reference: str | Path | None = None,
    seed: int = 0,
) -> VerifyResult:
    model = Path(model)
    if not model.is_file():
        raise CheckpointError(f"model file not found: {model}")
    if samples < 1:
        raise ConfigError("--samples must be >= 1")
    flatbuffer = model.read_bytes()
    info = summarize(flatbuffer)
    ref_bytes = flatbuffer
    if FUSED_KNN_OP in info.ops:
        if reference is None:
            raise ConfigError(
                f"{model.name} uses {FUSED_KNN_OP}, which no host interpreter has",
                hint="pass --reference with the --knn builtin conversion of the same model",
            )
        ref_bytes = Path(reference).read_bytes()
    uses_lce = any(op.startswith("Lce") for op in summarize(ref_bytes).ops)
    host = HostInterpreter(ref_bytes, lce=uses_lce)
    num_points = info.inputs[0]["shape"][1]
    classes = info.outputs[0]["shape"][-1]
    clouds = load_dataset(
        data,
        split="test",
        num_points=num_points,
        samples=samples,
        classes=min(classes, len(SHAPES)) if data == "synthetic" else None,
        seed=seed,
    ).points
    build = build_runner(target)
    agree, max_diff, exact, rel_ok = [], 0.0, True, True
    with tempfile.TemporaryDirectory(prefix="bgnn-verify-") as tmp:
        for i, cloud in enumerate(clouds):
            x = np.ascontiguousarray(cloud[None], dtype=np.float32)
            inp, out = Path(tmp, f"in{i}.raw"), Path(tmp, f"out{i}.raw")
            inp.write_bytes(x.tobytes())
            result = run_runner(
                build, model, num_runs=1, warmup_runs=0, input_path=inp, output_path=out
            )
            got = read_outputs(result, out)[0]
            want = (
                next(iter(host.run(x).values()))
                if len(host.output_names) == 1
                else host.run(x)["logits"]
            )
            diff = float(np.abs(got.astype(np.float64) - want).max())
            max_diff = max(max_diff, diff)
            exact = exact and bool(np.array_equal(got, want))
            rel_ok = rel_ok and diff <= RTOL * max(1.0, float(np.abs(want).max()))
            agree.append(bool(got.reshape(-1).argmax() == want.reshape(-1).argmax()))
    return VerifyResult(
        len(clouds),
        float(np.mean(agree)),
        max_diff,
        exact,
        build.target.name,
        build.target.emulated,
        "LCE interpreter" if uses_lce else "TFLite interpreter",
        max_rel_ok=rel_ok,
    )
