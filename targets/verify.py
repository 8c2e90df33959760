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
from bgnn_deploy.targets.profiles import TargetProfile
from bgnn_deploy.targets.transport import connect

from bgnn_deploy.data import load_clouds
from bgnn_deploy.errors import CheckpointError, ConfigError, RunInterrupted

__all__ = ["VerifyResult", "verify_model"]

RTOL = 1e-4


@dataclass
class VerifyResult:
    samples: int
    argmax_agreement: float
    max_abs_diff: float
    bit_exact: bool
    within_tolerance: bool  # every output within RTOL of the host's (relative to its scale)
    target: str
    emulated: bool
    reference: str

    @property
    def ok(self) -> bool:
        return self.argmax_agreement == 1.0 and self.within_tolerance

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def verify_model(
    model: str | Path,
    target: str | TargetProfile,
    *,
    samples: int = 4,
    data: str = "synthetic",
    reference: str | Path | None = None,
    seed: int = 0,
    accept_new_host_key: bool = False,
) -> VerifyResult:
    model = Path(model)
    if not model.is_file():
        raise CheckpointError(f"model file not found: {model}")
    if samples < 1:
        raise ConfigError("--samples must be >= 1")
    flatbuffer = model.read_bytes()
    info = summarize(flatbuffer)
    ref_bytes, ref_ops = flatbuffer, info.ops
    if FUSED_KNN_OP in info.ops and reference is None:
        raise ConfigError(
            f"{model.name} uses {FUSED_KNN_OP}, which no host interpreter has",
            hint="pass --reference with the --knn builtin conversion of the same model",
        )
    if reference is not None:
        if not Path(reference).is_file():
            raise CheckpointError(f"reference file not found: {reference}")
        ref_bytes = Path(reference).read_bytes()
        ref_ops = summarize(ref_bytes).ops
    _check_cloud_model(model.name, info)
    if reference is not None:
        ref_info = summarize(ref_bytes)
        mine = [(t["shape"], t["type"]) for t in (info.inputs[0], info.outputs[0])]
        theirs = [(t["shape"], t["type"]) for t in (ref_info.inputs[0], ref_info.outputs[0])]
        if mine != theirs:
            raise ConfigError(
                f"--reference {Path(reference).name} is not a form of {model.name}: its input "
                f"and output are {_io(ref_info)}, {model.name}'s are {_io(info)}",
                hint="give the portable (builtin or LCE) conversion of the same model",
            )
    uses_lce = any(op.startswith("Lce") for op in ref_ops)
    host = HostInterpreter(ref_bytes, lce=uses_lce)
    num_points = info.inputs[0]["shape"][1]
    classes = info.outputs[0]["shape"][-1]
    clouds = load_clouds(data, num_points=num_points, samples=samples, classes=classes, seed=seed)
    build = build_runner(target)
    try:
        return _compare(build, model, host, clouds, uses_lce, accept_new_host_key)
    except KeyboardInterrupt:  # the runner was stopped and the board cleaned up
        raise RunInterrupted(f"interrupted: verify on {build.target.name} was stopped") from None


def _compare(build, model: Path, host, clouds, uses_lce: bool, accept_new_host_key: bool):
    """The runner on the target and the host interpreter on each cloud."""
    agree, max_diff, exact, rel_ok = [], 0.0, True, True
    with (
        tempfile.TemporaryDirectory(prefix="bgnn-verify-") as tmp,
        connect(build.target, accept_new_host_key=accept_new_host_key) as conn,
    ):
        for i, cloud in enumerate(clouds):
            x = np.ascontiguousarray(cloud[None], dtype=np.float32)
            inp, out = Path(tmp, f"in{i}.raw"), Path(tmp, f"out{i}.raw")
            inp.write_bytes(x.tobytes())
            result = run_runner(
                build,
                model,
                num_runs=1,
                warmup_runs=0,
                input_path=inp,
                output_path=out,
                conn=conn,
            )
            got = read_outputs(result, out)[0]
            outputs = host.run(x)
            want = outputs.get("logits", next(iter(outputs.values())))
            diff = float(np.abs(got.astype(np.float64) - want).max())
            max_diff = max(max_diff, diff)
            exact = exact and bool(np.array_equal(got, want))
            rel_ok = rel_ok and diff <= RTOL * max(1.0, float(np.abs(want).max()))
            agree.append(bool(got.reshape(-1).argmax() == want.reshape(-1).argmax()))
    return VerifyResult(
        samples=len(clouds),
        argmax_agreement=float(np.mean(agree)),
        max_abs_diff=max_diff,
        bit_exact=exact,
        within_tolerance=rel_ok,
        target=build.target.name,
        emulated=build.target.emulated,
        reference="LCE interpreter" if uses_lce else "TFLite interpreter",
    )


def _io(info) -> str:
    first, last = info.inputs[0], info.outputs[0]
    return f"{first['type']}{list(first['shape'])} -> {last['type']}{list(last['shape'])}"


def _check_cloud_model(name: str, info) -> None:
    """verify feeds point clouds: the model must take one float32 [1, N, 3]."""
    shape = list(info.inputs[0]["shape"]) if info.inputs else []
    if not info.outputs or len(shape) != 3 or shape[0] != 1 or shape[2] != 3:
        raise ConfigError(
            f"verify runs point-cloud models (input float32[1, N, 3]); {name} takes "
            f"{_io(info) if info.inputs and info.outputs else 'no input'}",
            hint="`bgnn-deploy run` times any model",
        )
