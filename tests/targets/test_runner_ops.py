"""Each Lce op in our runner (aarch64, under qemu) against LCE's own interpreter, on
models produced by the LCE converter: every attribute the converter emits."""

from __future__ import annotations

import numpy as np
import pytest
from bgnn_deploy.converters.tflite_model import summarize
from bgnn_deploy.targets.execute import read_outputs, run_runner


def lce_model(build_fn, input_shape):
    import larq as lq
    import larq_compute_engine as lce
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    x = tf.keras.Input(input_shape, batch_size=1)
    model = tf.keras.Model(x, build_fn(x, lq, tf))
    for layer in model.layers:  # non-trivial BatchNorm statistics
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            rng = np.random.default_rng(n)
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(0, 2, n),
                    rng.normal(0, 3, n),
                    rng.uniform(1, 9, n),
                ]
            )
    return lce.convert_keras_model(model)


def qconv(lq, filters, kernel, **kw):
    return lq.layers.QuantConv2D(
        filters,
        kernel,
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        use_bias=False,
        **kw,
    )


CASES = {
    # name: (builder, input shape, ops that must appear)
    "3x3 same zero-pad": (
        lambda x, lq, tf: tf.keras.layers.BatchNormalization()(qconv(lq, 48, 3, padding="same")(x)),
        (8, 8, 40),
        {"LceBconv2d"},
    ),
    "3x3 same one-pad stride 2": (
        lambda x, lq, tf: qconv(lq, 24, 3, padding="same", pad_values=1.0, strides=2)(x),
        (9, 9, 33),
        {"LceBconv2d"},
    ),
    "dilated valid, 70 channels": (
        lambda x, lq, tf: qconv(lq, 16, 3, dilation_rate=2)(x),
        (9, 9, 70),
        {"LceBconv2d"},
    ),
    "bit-packed chain + maxpool": (
        lambda x, lq, tf: qconv(lq, 8, 1)(
            tf.keras.layers.MaxPool2D(2)(
                tf.keras.layers.BatchNormalization()(
                    qconv(lq, 37, 3, padding="same", pad_values=1.0)(x)
                )
            )
        ),
        (6, 6, 20),
        {"LceBconv2d", "LceBMaxPool2d"},
    ),
    "relu fused": (
        lambda x, lq, tf: tf.keras.layers.ReLU()(qconv(lq, 12, 1)(x)),
        (5, 5, 64),
        {"LceBconv2d"},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_op_matches_lce_interpreter(qemu_build, tmp_path, name):
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    build_fn, shape, needed = CASES[name]
    flatbuffer = lce_model(build_fn, shape)
    ops = summarize(flatbuffer).ops
    assert needed <= set(ops), ops
    if name == "bit-packed chain + maxpool":
        # the first conv writes bit-packed output straight into the pool: no quantize between
        assert ops["LceBconv2d"] == 2 and ops["LceQuantize"] == 1
    model = tmp_path / "m.tflite"
    model.write_bytes(flatbuffer)
    x = np.random.default_rng(1).normal(size=(1, *shape)).astype(np.float32)
    (tmp_path / "x.raw").write_bytes(x.tobytes())
    result = run_runner(
        qemu_build,
        model,
        num_runs=1,
        warmup_runs=0,
        input_path=tmp_path / "x.raw",
        output_path=tmp_path / "y.raw",
    )
    got = read_outputs(result, tmp_path / "y.raw")[0]
    want = Interpreter(flatbuffer).predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))
    assert result.emulated is True and result.arch == "aarch64"
