"""ONNX graphs that are not DGCNN-family networks are refused with one line naming the
node and what is supported (issue 13, item 4): never a traceback."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(tmp_path, nodes, inits, out_shape, name="m.onnx"):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def test_a_mean_aggregation_on_a_constant_adjacency_is_refused(cli, user_error, tmp_path):
    """A GCN-style layer, MatMul(A, x) with a constant normalised adjacency: was an
    AttributeError traceback."""
    rng = np.random.default_rng(0)
    adjacency = (rng.random((16, 16)) < 0.3).astype(np.float32)
    adjacency /= np.maximum(adjacency.sum(1, keepdims=True), 1)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["A", "x"], ["ax"], name="aggregate"),
        helper.make_node("MatMul", ["ax", "W"], ["h"], name="linear"),
        helper.make_node("ReduceMean", ["h"], ["y"], axes=[1], keepdims=0, name="pool"),
    ]
    path = _save(tmp_path, nodes, {"A": adjacency[None], "W": w}, [1, 4])
    result = cli("convert", path, "-o", tmp_path / "out")
    user_error(result, "aggregate")
    assert "hint:" in result.stderr and "onnx-frontend.md" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_graph_without_a_knn_is_refused(cli, user_error, tmp_path):
    w = np.ones((3, 4), np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="linear"),
        helper.make_node("ReduceMax", ["h"], ["y"], axes=[1], keepdims=0, name="pool"),
    ]
    path = _save(tmp_path, nodes, {"W": w}, [1, 4])
    result = cli("convert", path, "-o", tmp_path / "out")
    user_error(result, "ONNX")
    assert "hint:" in result.stderr
