"""Model files no frontend reads are named for what they are, with what to do instead;
the frontends are chosen by the file's kind or by --frontend (issue 13, items 3 and 4)."""

from __future__ import annotations

import pytest
from bgnn_deploy.converters.frontends import FRONTENDS, frontend_for
from bgnn_deploy.converters.frontends.formats import sniff

CASES = {
    "model.h5": ("keras-h5", "is an HDF5 file (a Keras/Larq .h5 model", "convert_keras_model"),
    "model.keras": ("keras-v3", "is a Keras v3 .keras archive", "convert_keras_model"),
    "saved_model": ("saved-model", "is a TensorFlow SavedModel folder", "convert_saved_model"),
    "model.tflite": ("tflite", "is a TFLite flatbuffer (already converted)", "bgnn-deploy run"),
    "model.safetensors": ("safetensors", "is a safetensors file", "torch.onnx.export"),
    "weights.npy": ("numpy", "is a NumPy array file", "--data"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_foreign_format_is_recognised(foreign_models, name):
    assert sniff(foreign_models / name) == CASES[name][0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_convert_names_a_foreign_format_and_what_to_do(cli, user_error, foreign_models, name):
    _, said, hint = CASES[name]
    result = cli("convert", foreign_models / name, "-o", foreign_models / "out")
    user_error(result, said)
    assert "convert reads PyTorch checkpoints" in result.stderr and hint in result.stderr
    assert "weights_only" not in result.stderr  # never torch's advice for other formats
    assert not (foreign_models / "out").exists()


@pytest.mark.parametrize("name", ["model.h5", "model.keras", "model.safetensors"])
def test_evaluate_names_a_foreign_format(cli, user_error, foreign_models, name):
    result = cli("evaluate", foreign_models / name, "--samples", "4")
    user_error(result, CASES[name][1])
    assert "weights_only" not in result.stderr


def test_a_pickled_module_is_refused_without_unsafe_advice(cli, user_error, foreign_models):
    """torch.save(model) of a whole module: torch's message suggests weights_only=False,
    which would run code from the file; ours says what to save instead."""
    for command in ("convert", "evaluate"):
        args = ("-o", foreign_models / "o") if command == "convert" else ("--samples", "4")
        result = cli(command, foreign_models / "whole_module.pt", *args)
        user_error(result, "holds Python objects beyond tensors")
        assert "model.state_dict()" in result.stderr and "weights_only" not in result.stderr


def test_evaluate_sends_an_onnx_file_to_convert(cli, user_error, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    result = cli("evaluate", path, "--samples", "4")
    user_error(result, "is read by the onnx frontend")
    assert f"bgnn-deploy convert {path}" in result.stderr


def test_frontends_by_kind_and_by_name(tmp_path, foreign_models):
    assert set(FRONTENDS) == {"pytorch", "onnx"}
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")
    assert frontend_for(onnx_file).name == "onnx"
    assert frontend_for(foreign_models / "whole_module.pt").name == "pytorch"
    assert frontend_for(foreign_models / "model.h5", "pytorch").name == "pytorch"


def test_an_unknown_frontend_name_is_one_error(cli, user_error, foreign_models):
    result = cli("convert", foreign_models / "whole_module.pt", "-o", foreign_models / "o",
                 "--frontend", "onx")  # fmt: skip
    user_error(result, "unknown frontend 'onx'")
    assert "did you mean 'onnx'" in result.stderr


def test_backends_by_name(tmp_path):
    from bgnn_deploy.converters.backends import BACKENDS, get_backend
    from bgnn_deploy.converters.convert import convert_checkpoint

    from bgnn_deploy.errors import ConfigError

    assert set(BACKENDS) == {"lce"} and get_backend("lce").name == "lce"
    with pytest.raises(ConfigError, match="unknown backend 'lcee'") as err:
        convert_checkpoint(tmp_path / "m.pt", tmp_path / "out", backend="lcee")
    assert err.value.hint == "did you mean 'lce'?" and not (tmp_path / "out").exists()
