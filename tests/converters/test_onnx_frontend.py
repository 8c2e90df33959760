"""ONNX files of binary GNNs not written by our exporter: recognised, converted, proven
against ONNX Runtime; unsupported nodes are named."""

from __future__ import annotations

import onnx
import pytest
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.convert import convert_checkpoint
from bgnn_deploy.converters.frontends.onnx_graphs import from_onnx

from bgnn_deploy.errors import CheckpointError, UnsupportedOpError
from tests.converters.onnx_builders import binary_dgcnn_onnx


@pytest.fixture
def hand_built(tmp_path):
    path = tmp_path / "bgnn.onnx"
    onnx.save(binary_dgcnn_onnx(n=48, k=5), path)
    return path


def test_structure_is_recognised(hand_built):
    graph = from_onnx(hand_built).model
    assert [(layer.k, layer.metric, layer.edge_op) for layer in graph.edge_convs] == [
        (5, "l2", "sub"),
        (5, "hamming", "xor"),
    ]
    first, second = (layer.edge_ops[0] for layer in graph.edge_convs)
    assert first.binary_weights and not first.binary_inputs  # xyz edges stay real
    assert second.is_binary
    assert graph.embed[0].is_binary
    dense = [op for op in graph.head if isinstance(op, ir.Dense)]
    assert dense[0].is_binary and not dense[-1].binary_weights and dense[-1].bias is not None
    assert graph.classes == 4 and graph.num_points == 48


def test_converts_and_matches_onnx_runtime(hand_built, tmp_path):
    report = convert_checkpoint(hand_built, tmp_path / "out", samples=3)
    data = report.data
    assert data["verified"], data["parity"]["failures"]
    assert data["parity"]["reference"] == "ONNX Runtime"
    assert data["parity"]["argmax_agreement"] == 1.0
    assert data["parity"]["knn_index_agreement"] == 1.0
    assert data["ops"]["binary"]["LceBconv2d"] == 3  # layer-2 edges, embedding, hidden head
    assert data["parity"]["unchecked"]  # the float baseline has no reference: said so
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_unsupported_node_is_named(tmp_path):
    path = tmp_path / "odd.onnx"
    onnx.save(binary_dgcnn_onnx(n=32, k=4, extra_node="Softsign"), path)
    with pytest.raises(UnsupportedOpError) as err:
        from_onnx(path)
    assert "(Softsign)" in str(err.value) and "softsign_" in str(err.value)


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "fake.onnx"
    path.write_bytes(b"\x08\x07garbage that is not a model")
    with pytest.raises(CheckpointError, match="not a valid ONNX model"):
        from_onnx(path)


def test_unsupported_node_through_the_cli(cli, user_error, tmp_path):
    path = tmp_path / "odd.onnx"
    onnx.save(binary_dgcnn_onnx(n=32, k=4, extra_node="Softsign"), path)
    result = cli("convert", path, "-o", tmp_path / "out")
    user_error(result, "Softsign")
    assert not (tmp_path / "out").exists()
