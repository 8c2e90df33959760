"""Model files of unknown origin in native code: whatever a model says about its tensors,
the runner refuses what does not fit with one error naming the op, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from bgnn_deploy.converters.litert_prepare import aligned_pack, prepare_for_litert
from bgnn_deploy.converters.tflite_model import read_model, tflite_schema
from bgnn_deploy.targets import execute
from bgnn_deploy.targets.build import build_runner
from bgnn_deploy.targets.execute import RunnerError, run_runner


def _lce_ops(model, name: str):
    graph = model.subgraphs[0]
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex].customCode
        if code and code.decode().split("#")[0] == name:
            yield op, graph.tensors[int(op.outputs[0])]


def test_a_prepared_model_whose_bconv_options_contradict_its_output_is_refused(
    converted, tmp_path, monkeypatch
):
    """A LiteRt-prepared model (as the cache keeps it) whose LceBconv2d says bit-packed
    output on a float32 output tensor: the output was sized as packed words while the
    kernel wrote one float per channel, a heap overflow; now prepare refuses it."""
    from flatbuffers import flexbuffers

    schema = tflite_schema()
    model = read_model(prepare_for_litert((converted / "builtin" / "binary.tflite").read_bytes()))
    op, _ = next(
        (op, out)
        for op, out in _lce_ops(model, "LceBconv2d")
        if out.type == schema.TensorType.FLOAT32
    )
    options = flexbuffers.Loads(bytes(bytearray(op.customOptions)))
    op.customOptions = list(flexbuffers.Dumps({**options, "bgnn_bitpacked_output": 1}))
    corrupt = tmp_path / "corrupt-cache-entry.tflite"
    corrupt.write_bytes(aligned_pack(model))
    # the runner gets the corrupt file as if it came from the prepared-model cache
    monkeypatch.setattr(execute, "_prepared", lambda model, runtime: corrupt)
    with pytest.raises(RunnerError) as err:
        run_runner(build_runner("local"), converted / "builtin" / "binary.tflite", num_runs=1)
    assert "LceBconv2d" in str(err.value) and "contradicts" in str(err.value)
    assert "signal" not in str(err.value)


def test_preparing_any_mutation_of_a_model_raises_only_our_error(converted):
    """Bytes flipped anywhere in a real model, or the file cut short: preparing it for
    LiteRt succeeds or raises CheckpointError, never another exception (a traceback)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from bgnn_deploy.errors import CheckpointError

    original = (converted / "builtin" / "binary.tflite").read_bytes()
    size = len(original)
    mutation = st.tuples(st.integers(0, size - 1), st.integers(0, 255))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(mutation, min_size=1, max_size=8), st.integers(8, size))
    def check(changes, length):
        data = bytearray(original)
        for at, value in changes:
            data[at] = value
        with contextlib.suppress(CheckpointError):
            prepare_for_litert(bytes(data[:length]))

    check()


@pytest.mark.parametrize(
    ("k", "message"), [(0, "k=0 must be >= 1"), (334, "k=334 outside [1, 333]")]
)
def test_a_first_layer_asking_for_impossible_neighbours_is_refused(fused, tmp_path, k, message):
    """The fused first layer finds its own L2 neighbours (BgnnEdgeConv with option k); a
    model asking for none, or for more than the cloud has, is refused in prepare."""
    from flatbuffers import flexbuffers

    model = read_model((fused["root"] / "fused" / "binary.tflite").read_bytes())
    op = next(op for op, _ in _lce_ops(model, "BgnnEdgeConv"))
    options = flexbuffers.Loads(bytes(bytearray(op.customOptions)))
    assert options["k"] == 7  # the model's own: the first layer
    op.customOptions = list(flexbuffers.Dumps({**options, "k": k}))
    bad = tmp_path / "bad-k.tflite"
    bad.write_bytes(aligned_pack(model))
    for target in ("local", "qemu-aarch64"):
        with pytest.raises(RunnerError) as err:
            run_runner(build_runner(target), bad, num_runs=1, warmup_runs=0)
        assert "BgnnEdgeConv" in str(err.value) and message in str(err.value), target
