"""The fused ops (convert --fuse) in the native runner, on both runtimes: the same k-NN
and bit-exact node features as their NumPy reference, the same logits as the portable
LCE form in LCE's interpreter, for any thread count; corrupt constants refused clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bgnn_deploy.converters.fusion.flatbuffer import head_model
from bgnn_deploy.converters.fusion.reference import run_front
from bgnn_deploy.converters.tflite_model import read_model
from bgnn_deploy.converters.tflite_runtime import HostInterpreter
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import RunnerError, read_outputs, run_runner

from bgnn_deploy.data import load_clouds


def _named_outputs(model_path, result, raw) -> dict[str, np.ndarray]:
    """Runner outputs by signature name (fused graphs list outputs in signature order)."""
    model = read_model(model_path.read_bytes())
    names = [o.name.decode() for o in model.signatureDefs[0].outputs]
    return dict(zip(names, read_outputs(result, raw), strict=True))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    x = load_clouds("synthetic", num_points=333, samples=1, classes=5, seed=4)[0]
    path = tmp_path_factory.mktemp("in") / "x.raw"
    path.write_bytes(x[None].astype(np.float32).tobytes())
    return x, path


@pytest.mark.parametrize("target", ["local", "qemu-aarch64"])
def test_fused_ops_on_the_runner_equal_their_reference(fused, cloud, tmp_path, target):
    x, x_path = cloud
    debug = fused["root"] / "fused-debug.tflite"
    result = run_runner(
        build_runner(target),
        debug,
        num_runs=1,
        warmup_runs=0,
        input_path=x_path,
        output_path=tmp_path / "y.raw",
    )
    got = _named_outputs(debug, result, tmp_path / "y.raw")
    want = run_front(fused["plan"], x)
    for i in range(3):
        np.testing.assert_array_equal(got[f"knn{i}"][0], want[f"knn{i}"])
        np.testing.assert_array_equal(got[f"nodes{i}"][0], want[f"nodes{i}"])
    portable = (fused["root"] / "portable" / "binary.tflite").read_bytes()
    head = HostInterpreter(head_model(portable), lce=True)
    logits = head.run(want["pooled"][None])["logits"]
    np.testing.assert_allclose(got["logits"], logits, rtol=1e-4, atol=1e-4 * np.abs(logits).max())


@pytest.mark.parametrize("target", ["local", "qemu-aarch64"])
def test_verify_fused_against_the_portable_form(cli, fused, target):
    root = fused["root"]
    result = cli(
        "verify",
        root / "fused" / "binary.tflite",
        "--reference",
        root / "portable" / "binary.tflite",
        "--target",
        target,
        "--samples",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["argmax_agreement"] == 1.0 and report["max_abs_diff"] < 1e-3


def test_fused_outputs_do_not_depend_on_threads(fused, cloud, tmp_path):
    _, x_path = cloud
    debug = fused["root"] / "fused-debug.tflite"
    outs = []
    for threads in (1, 2, 3):
        out = tmp_path / f"y{threads}.raw"
        run_runner(
            build_runner("local"),
            debug,
            num_runs=1,
            warmup_runs=0,
            threads=threads,
            input_path=x_path,
            output_path=out,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def _with_constant(model_bytes: bytes, tensor_name: str, values: np.ndarray) -> bytes:
    from bgnn_deploy.converters.litert_prepare import aligned_pack

    model = read_model(model_bytes)
    graph = model.subgraphs[0]
    tensor = next(t for t in graph.tensors if t.name.decode() == tensor_name)
    model.buffers[tensor.buffer].data = list(values.tobytes())
    return aligned_pack(model)


@pytest.mark.parametrize("target", ["local", "qemu-aarch64"])
def test_corrupt_fused_constants_are_refused_naming_the_op(fused, tmp_path, target):
    plan = fused["plan"]
    fused_bytes = (fused["root"] / "fused" / "binary.tflite").read_bytes()
    modes = plan.layers[1].rules.mode.copy()
    modes[3] = 9
    bad = tmp_path / "bad-mode.tflite"
    bad.write_bytes(_with_constant(fused_bytes, "bgnn/edgeconv1/modes", modes))
    with pytest.raises(RunnerError) as err:
        run_runner(build_runner(target), bad, num_runs=1, warmup_runs=0)
    assert "BgnnEdgeConv" in str(err.value) and "mode 9 of channel 3" in str(err.value)


@pytest.mark.parametrize("target", ["local", "qemu-aarch64"])
@pytest.mark.parametrize("bad", [-1, 40, 2**31 - 1])
def test_neighbour_indices_outside_the_points_are_refused(fused, tmp_path, target, bad):
    """A single BgnnEdgeConv whose constant indices hold one index outside [0, N): the op
    refuses to run (it would read outside x) and says which."""
    from benchmarks.fused import Tensor, single_op_model

    n, k, cin, cout = 40, 5, 40, 33
    rng = np.random.default_rng(1)
    idx = rng.integers(0, n, (1, n, k)).astype(np.int32)
    idx[0, 17, 3] = bad
    words = -(-cin // 32)
    weights = rng.integers(0, 2**31, (cout, 2, words)).astype(np.int32)
    weights[..., -1] &= (1 << (cin % 32)) - 1  # padding bits 0
    base = (fused["root"] / "fused" / "binary.tflite").read_bytes()
    model = tmp_path / "edgeconv.tflite"
    model.write_bytes(
        single_op_model(
            base,
            "BgnnEdgeConv",
            [
                Tensor("x", (1, n, words), np.int32),
                ("indices", idx),
                ("weights", weights),
                ("modes", np.zeros(cout, np.int32)),
                ("bounds", np.tile(np.array([-4, 4], np.int32), (cout, 1))),
            ],
            [Tensor("y", (1, n, 2), np.int32)],
            {"channels_in": cin, "channels_out": cout},
        )
    )
    with pytest.raises(RunnerError) as err:
        run_runner(build_runner(target), model, num_runs=1, warmup_runs=0)
    assert f"neighbour index {bad} outside [0, {n})" in str(err.value), str(err.value)
