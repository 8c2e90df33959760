"""Backend: model description -> Keras + Larq graph -> LCE / TFLite flatbuffer.

Binary Dense ops become ``larq.layers.QuantConv2D`` 1x1 convolutions with ``ste_sign``
input and kernel quantizers, which the LCE converter turns into LceQuantize +
LceBconv2d (a following per-channel scale folds into the op's multiplier). Binary
dense (MLP) layers are written the same way on a 1x1 "image", because larq's
``QuantDense`` would stay a float FULLY_CONNECTED. The k-NN is written with builtins
(MATMUL -> TOPK_V2 -> GATHER); TOPK_V2 breaks ties toward the lower index, which is
bgnn-deploy's tie rule. The batch size is 1, as on a board.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass

import numpy as np
from bgnn_deploy.converters import ir
from bgnn_deploy.converters.backends.base import Backend
from bgnn_deploy.converters.quiet import native_stderr_silenced

from bgnn_deploy.errors import ConversionError, UnsupportedOpError

__all__ = ["BACKEND", "KerasGraph", "build_keras", "convert_to_tflite"]


def _tf():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    with native_stderr_silenced():
        import larq  # noqa: F401  (imported here so its start-up is silenced too)
        import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    return tf


@dataclass
class KerasGraph:
    """The Keras model plus, for parity checks, the names of its extra outputs."""

    model: object  # tf.keras.Model
    output_names: list[str]  # "logits", "knn0", "nodes0", ...


class _Builder:
    def __init__(self, tf, lq):
        self.tf, self.lq = tf, lq
        self.keras = tf.keras

    def apply(self, ops: tuple[ir.Op, ...], x, where: str):
        for i, op in enumerate(ops):
            x = self.apply_one(op, x, f"{where}[{i}]")
        return x

    def apply_one(self, op: ir.Op, x, where: str):
        tf, keras = self.tf, self.keras
        rank = len(x.shape)
        if isinstance(op, ir.BatchNorm):
            layer = keras.layers.BatchNormalization(axis=-1, epsilon=op.eps)
            y = layer(x)
            layer.set_weights([op.gamma, op.beta, op.mean, op.var])
            return y
        if isinstance(op, ir.Sign):
            return self.lq.quantizers.SteSign()(x)
        if isinstance(op, ir.Dense):
            return self.dense(op, x, rank)
        if isinstance(op, ir.Scale):
            y = x * tf.constant(op.channel.astype(np.float32))
            if op.point is not None:
                shape = (-1,) + (1,) * (rank - 2)  # points are axis 1
                y = y * tf.constant(op.point.astype(np.float32).reshape(shape))
            if op.neighbour is not None:
                y = y * tf.constant(op.neighbour.astype(np.float32).reshape(-1, 1))
            return y
        if isinstance(op, ir.PReLU):
            alpha = op.alpha.astype(np.float32)
            shared = list(range(1, rank)) if alpha.size == 1 else list(range(1, rank - 1))
            layer = keras.layers.PReLU(shared_axes=shared)
            y = layer(x)
            layer.set_weights([alpha.reshape(layer.get_weights()[0].shape)])
            return y
        if isinstance(op, ir.LeakyReLU):
            return keras.layers.LeakyReLU(alpha=op.alpha)(x)
        if isinstance(op, ir.Center):
            axis = 1 if op.axis == "points" else rank - 1
            if op.op == "mean":
                return x - tf.reduce_mean(x, axis=axis, keepdims=True)
            return x - self.lower_median(x, axis)
        raise UnsupportedOpError(f"{where}: the Keras backend has no rule for {type(op).__name__}")

    def lower_median(self, x, axis: int):
        """torch.median's lower median along ``axis``, with TOPK_V2 (no median builtin)."""
        tf = self.tf
        rank = len(x.shape)
        perm = [i for i in range(rank) if i != axis] + [axis]
        inv = list(np.argsort(perm))
        n = int(x.shape[axis])
        values, _ = tf.math.top_k(tf.transpose(x, perm), k=n)  # descending
        med = values[..., n - 1 - (n - 1) // 2 : n - (n - 1) // 2]
        return tf.transpose(med, inv)

    def dense(self, op: ir.Dense, x, rank: int):
        tf = self.tf
        shape = [int(d) for d in x.shape[1:-1]]
        if rank == 4:
            image = x
        elif rank == 3:
            image = tf.reshape(x, [1, shape[0], 1, op.in_channels])
        elif rank == 2:
            image = tf.reshape(x, [1, 1, 1, op.in_channels])
        else:
            raise ConversionError(f"Dense on a rank-{rank} tensor")
        layer = self.lq.layers.QuantConv2D(
            op.out_channels,
            1,
            input_quantizer="ste_sign" if op.binary_inputs else None,
            kernel_quantizer="ste_sign" if op.binary_weights else None,
            kernel_constraint="weight_clip" if op.binary_weights else None,
            use_bias=op.bias is not None,
        )
        y = layer(image)
        weights = [op.weight.T.reshape(1, 1, op.in_channels, op.out_channels).astype(np.float32)]
        if op.bias is not None:
            weights.append(op.bias.astype(np.float32))
        layer.set_weights(weights)
        if rank == 3:
            return tf.reshape(y, [1, shape[0], op.out_channels])
        if rank == 2:
            return tf.reshape(y, [1, op.out_channels])
        return y

    def knn(self, x, k: int, metric: str, form: str = "sq_first"):
        """Top-k neighbours; an L2 score is rounded as the source rounds it (``form``, see
        :data:`ir.L2_FORMS`), so that near ties fall the same way."""
        tf = self.tf
        if metric == "hamming":
            score = tf.matmul(x, x, transpose_b=True)  # ±1 rows: C - 2 * hamming, exact
        elif metric == "l2" and form == "cdist":
            sq = tf.reduce_sum(x * x, axis=-1, keepdims=True)
            ones = tf.ones_like(sq)
            a = tf.concat([-2.0 * x, sq, ones], axis=-1)
            b = tf.concat([x, ones, sq], axis=-1)
            score = -tf.sqrt(tf.maximum(tf.matmul(a, b, transpose_b=True), 0.0))
        elif metric == "l2" and form in ("sq_first", "neighbour_first"):
            dot = tf.matmul(x, x, transpose_b=True)
            sq = tf.reduce_sum(x * x, axis=-1)
            if form == "sq_first":  # as the PyTorch reference: (|xi|^2 - 2 xi.xj) + |xj|^2
                score = -((sq[:, :, None] - 2.0 * dot) + sq[:, None, :])
            else:  # DGCNN's knn: (2 xi.xj - |xj|^2) - |xi|^2
                score = (2.0 * dot - sq[:, None, :]) - sq[:, :, None]
        else:
            raise UnsupportedOpError(f"k-NN metric '{metric}'")
        _, idx = tf.math.top_k(score, k=k)
        return idx

    def edge_features(self, x, idx, k: int, edge_op: str):
        tf = self.tf
        neighbours = tf.expand_dims(tf.gather(x[0], idx[0]), 0)  # [1, N, k, C]
        centre = tf.tile(tf.expand_dims(x, 2), [1, 1, k, 1])
        rel = neighbours - centre if edge_op == "sub" else -(neighbours * centre)
        return tf.concat([rel, centre], axis=-1)


def build_keras(model: ir.GraphModel, *, debug: bool = False) -> KerasGraph:
    """Build the Keras graph; ``debug`` adds each layer's k-NN indices and node features."""
    with native_stderr_silenced():  # TF probes for CUDA devices on first use
        return _build_keras(model, debug=debug)


def _build_keras(model: ir.GraphModel, *, debug: bool) -> KerasGraph:
    tf = _tf()
    import larq as lq

    b = _Builder(tf, lq)
    points = tf.keras.Input((model.num_points, model.in_channels), batch_size=1, name="points")
    x = points
    nodes, extra, names = [], [], ["logits"]
    for i, layer in enumerate(model.edge_convs):
        idx = b.knn(x, layer.k, layer.metric, layer.l2_form)
        edges = b.edge_features(x, idx, layer.k, layer.edge_op)
        edges = b.apply(layer.edge_ops, edges, f"edge_convs.{i}.edge_ops")
        x = b.apply(layer.node_ops, tf.reduce_max(edges, axis=2), f"edge_convs.{i}.node_ops")
        nodes.append(x)
        extra += [idx, x]
        names += [f"knn{i}", f"nodes{i}"]
    x = b.apply(model.embed, tf.concat(nodes, axis=-1), "embed")
    x = tf.concat([tf.reduce_max(x, axis=1), tf.reduce_mean(x, axis=1)], axis=-1)
    logits = b.apply(model.head, x, "head")
    outputs = [logits, *extra] if debug else [logits]
    names = names[: len(outputs)]
    # Named identities give each output a stable name in the flatbuffer's signature,
    # since the converter reorders outputs.
    outputs = [tf.keras.layers.Identity(name=n)(t) for n, t in zip(names, outputs, strict=True)]
    keras_model = tf.keras.Model(points, outputs, name=model.name.replace("-", "_"))
    return KerasGraph(keras_model, names)


def convert_to_tflite(graph: KerasGraph, *, binary: bool) -> bytes:
    """Flatbuffer bytes: LCE's converter for binary graphs, TFLite's for float ones."""
    tf = _tf()
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), native_stderr_silenced():
            if binary:
                import larq_compute_engine as lce

                return lce.convert_keras_model(graph.model)
            converter = tf.lite.TFLiteConverter.from_keras_model(graph.model)
            return converter.convert()
    except Exception as e:  # the converters raise many types; all mean "could not convert"
        raise ConversionError(f"TFLite conversion failed: {str(e).strip()[:400]}") from None


def _write(model: ir.GraphModel, *, binary: bool, debug: bool = False) -> bytes:
    return convert_to_tflite(build_keras(model, debug=debug), binary=binary)


BACKEND = Backend(
    name="lce",
    summary="TFLite flatbuffers through Keras + Larq: LCE's binary ops, TFLite's builtins",
    write=_write,
)
