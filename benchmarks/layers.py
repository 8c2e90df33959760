"""Section 1: one binary convolution (LceQuantize -> LceBconv2d, our kernels in our
runner) against the same layer in float (CONV_2D through LiteRT + XNNPACK in the same
runner), one thread, for the DGCNN's layer shapes and a sweep of widths.

Each layer is a 1x1 convolution written as our backend writes binary layers
(``converters/backends/keras_lce.py``): larq ``QuantConv2D`` with ``ste_sign`` input and
kernel quantizers and ``weight_clip``, converted by LCE's converter, so the binary model
takes float input and its time includes quantizing it. The float model is a plain
Keras ``Conv2D`` of the same shape, converted by TFLite's converter. A third model with
the same input and output shapes but no real work (a slice and a tile) measures the
Python call overhead of LCE's interpreter (section 3, ``lce.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.stats import interleaved, ratio_spread
from benchmarks.timing import RunnerSide, ops_profile

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = ["DGCNN_LAYERS", "LayerModels", "LayerShape", "build_layer_models", "measure_layers"]


@dataclass(frozen=True)
class LayerShape:
    """A 1x1 convolution over an [1, H, W, cin] input: H = points, W = neighbours (k) for
    EdgeConv edge features, 1 for per-point and MLP layers."""

    name: str
    h: int
    w: int
    cin: int
    cout: int
    group: str  # "dgcnn" (the network's own layers) or "sweep"

    @property
    def macs(self) -> int:
        return self.h * self.w * self.cin * self.cout

    @property
    def slug(self) -> str:
        return f"{self.group}-{self.h}x{self.w}x{self.cin}-{self.cout}"


N, K = 1024, 20
DGCNN_LAYERS = (
    LayerShape("EdgeConv 1: 2x3->64", N, K, 6, 64, "dgcnn"),
    LayerShape("EdgeConv 2: 2x64->64", N, K, 128, 64, "dgcnn"),
    LayerShape("EdgeConv 3: 2x64->128", N, K, 128, 128, "dgcnn"),
    LayerShape("EdgeConv 4: 2x128->256", N, K, 256, 256, "dgcnn"),
    LayerShape("Embedding 512->1024", N, 1, 512, 1024, "dgcnn"),
    LayerShape("MLP 2048->512", 1, 1, 2048, 512, "dgcnn"),
    LayerShape("MLP 512->256", 1, 1, 512, 256, "dgcnn"),
)


def sweep_layers(widths: tuple[int, ...]) -> tuple[LayerShape, ...]:
    """C -> C over the edge rows of one EdgeConv (1024 points x 20 neighbours)."""
    return tuple(LayerShape(f"sweep {c}->{c}", N, K, c, c, "sweep") for c in widths)


@dataclass(frozen=True)
class LayerModels:
    shape: LayerShape
    binary: Path
    float: Path
    trivial: Path  # same I/O shapes, no work: LCE interpreter overhead


def _keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from bgnn_deploy.converters.quiet import native_stderr_silenced

    with native_stderr_silenced():
        import larq as lq
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    return tf, lq


def build_layer_models(shape: LayerShape, folder: Path) -> LayerModels:
    """Write the binary, float and trivial .tflite of one layer (reused when present)."""
    from bgnn_deploy.converters.backends.keras_lce import KerasGraph, convert_to_tflite

    folder.mkdir(parents=True, exist_ok=True)
    out = LayerModels(
        shape,
        folder / f"{shape.slug}-binary.tflite",
        folder / f"{shape.slug}-float.tflite",
        folder / f"{shape.slug}-trivial.tflite",
    )
    if out.binary.is_file() and out.float.is_file() and out.trivial.is_file():
        return out
    tf, lq = _keras()
    tf.random.set_seed(0)
    keras = tf.keras

    def model(make: Callable) -> object:
        x = keras.Input((shape.h, shape.w, shape.cin), batch_size=1, name="x")
        return keras.Model(x, make(x))

    binary = model(
        lambda x: lq.layers.QuantConv2D(
            shape.cout,
            1,
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip",
            use_bias=False,
        )(x)
    )
    float_ = model(lambda x: keras.layers.Conv2D(shape.cout, 1, use_bias=False)(x))
    trivial = model(lambda x: tf.tile(x[..., :1], [1, 1, 1, shape.cout]))
    for path, m, is_binary in (
        (out.binary, binary, True),
        (out.float, float_, False),
        (out.trivial, trivial, False),
    ):
        path.write_bytes(convert_to_tflite(KerasGraph(m, ["y"]), binary=is_binary))
    return out


def ops_of(path: Path) -> dict[str, int]:
    from bgnn_deploy.converters.tflite_model import summarize_file

    return summarize_file(path).ops


def measure_layers(
    build: RunnerBuild,
    models: list[LayerModels],
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> list[dict]:
    """Binary vs float per layer: per-round medians of both, their ratio's spread, the
    ops of each model (proof of what ran) and the binary side's per-op split."""
    rows = []
    for i, m in enumerate(models, 1):
        say(f"layers {i}/{len(models)}: {m.shape.name} ({m.shape.h}x{m.shape.w})")
        binary = RunnerSide(build, m.binary, budget_s=budget_s, profile_ops=True)
        float_ = RunnerSide(build, m.float, budget_s=budget_s, profile_ops=True)
        values = interleaved([("binary", binary), ("float", float_)], rounds)
        rows.append(
            {
                "shape": asdict(m.shape),
                "macs": m.shape.macs,
                "binary_ms": values["binary"],
                "float_ms": values["float"],
                "runs_per_invocation": {"binary": binary.runs, "float": float_.runs},
                "speedup": ratio_spread(values["float"], values["binary"]).to_dict(),
                "binary_ops_profile": ops_profile(binary.last),
                "ops": {"binary": ops_of(m.binary), "float": ops_of(m.float)},
                "isa": binary.last.isa,
            }
        )
    return rows
