"""Section 8: our fused ops alone (``convert --fuse``), one layer per model, one thread.

Per DGCNN EdgeConv layer, two single-layer models with the same input and the same
neighbour indices (a constant int32 [1, N, k]: the exact k-NN of the random input, L2
for layer 1, Hamming for layers 2-4):

- fused: one ``BgnnEdgeConv`` (docs/ops/BgnnEdgeConv.md) whose weights, modes and
  bounds are the layer's own from ``plan_fusion`` of the suite's calibrated BinDGCNN
  (the network ``convert --fuse`` writes). Its input is what the op gets in the fused
  network: float points [1, N, 3] for layer 1, bit-packed ±1 features int32
  [1, N, words(C)] for layers 2-4 (random ±1 rows); its output the next layer's packed
  features, so the time includes packing them.
- float: the float DGCNN's EdgeConv as our backend writes it (GATHER of the neighbours,
  TILE of the centre, SUB, CONCATENATION, a 1x1 CONV_2D through XNNPACK, REDUCE_MAX over
  the neighbours; its BatchNorm and activation left out, which favours float), on the
  same input as float ±1 values.

Before timing, the fused model's output through our runner must equal the NumPy
reference of the op (``converters/fusion/reference.py``) bit for bit. The embedding
(``BgnnEmbedPool`` over the four layers' packed features, with global max and mean
pooling) gets a single-op model too, for the instruction counts of the binary GEMM
density (its output checked against the reference within float rounding).

MACs: the network's are what the portable form computes, N k Cout 2C per EdgeConv; the
fused kernel executes N k Cout C (the edge half, per edge) + N Cout C (the centre half,
once per node), see ``targets/runner/core/edgeconv.h``.

>>> network_macs(1024, 20, 64, 128), executed_macs(1024, 20, 64, 128)
(335544320, 176160768)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.stats import interleaved, ratio_spread
from benchmarks.timing import RunnerSide, ops_profile

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

    from benchmarks.models import NetworkSet

__all__ = [
    "EmbedModel",
    "FusedLayer",
    "Tensor",
    "build_embed_model",
    "build_fused_layers",
    "executed_macs",
    "measure_fused_layers",
    "network_macs",
    "single_op_model",
]


def network_macs(n: int, k: int, cin: int, cout: int) -> int:
    """One EdgeConv's MACs as the network (and the portable LCE form) computes them."""
    return n * k * cout * 2 * cin


def executed_macs(n: int, k: int, cin: int, cout: int) -> int:
    """The MACs BgnnEdgeConv executes: the edge half per edge, the centre half per node."""
    return n * k * cout * cin + n * cout * cin


@dataclass(frozen=True)
class Tensor:
    """A graph input or output of a single-op model."""

    name: str
    shape: tuple[int, ...]
    dtype: type  # np.float32 or np.int32


def single_op_model(
    base: bytes,
    op: str,
    args: list[Tensor | tuple[str, np.ndarray]],
    outputs: list[Tensor],
    options: dict,
) -> bytes:
    """A flatbuffer holding one custom op: ``args`` in order, each a graph input
    (:class:`Tensor`) or a constant (name, array). ``base`` is any TFLite model (its
    version, metadata and signature layout are kept, its ops and tensors dropped)."""
    from bgnn_deploy.converters.fusion.flatbuffer import FlatbufferGraph

    g = FlatbufferGraph(base)
    inputs, graph_inputs, names = [], [], []
    for arg in args:
        if isinstance(arg, Tensor):
            t = g.add_tensor(arg.name, arg.shape, arg.dtype)
            graph_inputs.append(t)
            names.append(arg.name)
        else:
            name, array = arg
            t = g.constant(name, array)
        inputs.append(t)
    outs = {o.name: g.add_tensor(o.name, o.shape, o.dtype) for o in outputs}
    node = g.custom_op(op, inputs, list(outs.values()), options)
    return g.finish([node], graph_inputs, outs, names)


def words(channels: int) -> int:
    return -(-channels // 32)


@dataclass(frozen=True)
class FusedLayer:
    """One EdgeConv layer's fused and float single-layer models and their input files."""

    name: str
    index: int
    n: int
    k: int
    cin: int
    cout: int
    binary_input: bool
    fused: Path
    float: Path
    fused_input: Path
    float_input: Path

    @property
    def network_macs(self) -> int:
        return network_macs(self.n, self.k, self.cin, self.cout)

    @property
    def executed_macs(self) -> int:
        return executed_macs(self.n, self.k, self.cin, self.cout)

    def to_dict(self) -> dict:
        d = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        return {**d, "network_macs": self.network_macs, "executed_macs": self.executed_macs}


@dataclass(frozen=True)
class EmbedModel:
    n: int
    channels_in: tuple[int, ...]
    channels_out: int
    model: Path
    input: Path

    @property
    def macs(self) -> int:
        return self.n * sum(self.channels_in) * self.channels_out


def layer_name(index: int, cin: int, cout: int) -> str:
    """The name the report uses, e.g. 'EdgeConv 3: 64->128' (index from 0)."""
    return f"EdgeConv {index + 1}: {cin}->{cout}"


def fusion_plan(checkpoint: Path):
    """``plan_fusion`` of a checkpoint: the weights and rules ``convert --fuse`` writes."""
    from bgnn_deploy.converters.frontends.torch_models import from_torch
    from bgnn_deploy.converters.fusion.plan import plan_fusion

    from bgnn_deploy.models.checkpoint import load_checkpoint

    return plan_fusion(from_torch(load_checkpoint(checkpoint).model))


def _layer_data(layer, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x [N, C], indices [N, k]): random points (layer 1) or ±1 rows, and their k-NN."""
    from bgnn_deploy.converters.fusion import reference

    rng = np.random.default_rng(seed)
    if not layer.binary_input:
        x = rng.uniform(-1.0, 1.0, (n, layer.channels_in)).astype(np.float32)
        return x, reference.l2_knn(x, layer.k)
    x = np.where(rng.random((n, layer.channels_in)) < 0.5, -1.0, 1.0).astype(np.float32)
    return x, reference.hamming_knn(x, layer.k)


def _float_edgeconv(x_shape: tuple[int, int], idx: np.ndarray, cout: int) -> bytes:
    """The float DGCNN's EdgeConv (our backend's edge features) with constant indices."""
    from bgnn_deploy.converters.backends.keras_lce import KerasGraph, convert_to_tflite

    from benchmarks.layers import _keras

    tf, _ = _keras()
    tf.random.set_seed(0)
    keras = tf.keras
    n, c = x_shape
    k = idx.shape[1]
    x = keras.Input((n, c), batch_size=1, name="x")
    neighbours = tf.expand_dims(tf.gather(x[0], tf.constant(idx)), 0)  # [1, N, k, C]
    centre = tf.tile(tf.expand_dims(x, 2), [1, 1, k, 1])
    edges = tf.concat([neighbours - centre, centre], axis=-1)
    y = tf.reduce_max(keras.layers.Conv2D(cout, 1, use_bias=False)(edges), axis=2)
    model = keras.Model(x, keras.layers.Identity(name="y")(y))
    return convert_to_tflite(KerasGraph(model, ["y"]), binary=False)


def build_fused_layers(nets: NetworkSet, folder: Path) -> tuple[list[FusedLayer], EmbedModel]:
    """The single-layer models of every EdgeConv of ``nets``' BinDGCNN, and the
    embedding's (reused when present; the folder is per network set, so per weights)."""
    from bgnn_deploy.converters.fusion.plan import pack_signs

    folder.mkdir(parents=True, exist_ok=True)
    n = nets.config["num_points"]
    plan = None
    layers = []
    for i in range(len(nets.config["widths"])):
        stem = folder / f"edgeconv{i + 1}"
        paths = [stem.with_name(f"{stem.name}-{s}") for s in ("fused.tflite", "float.tflite")]
        inputs = [stem.with_name(f"{stem.name}-{s}") for s in ("fused.raw", "float.raw")]
        if plan is None:
            plan = fusion_plan(nets.checkpoint)
        layer = plan.layers[i]
        if not all(p.is_file() for p in (*paths, *inputs)):
            x, idx = _layer_data(layer, n, seed=100 + i)
            float_fb = _float_edgeconv(x.shape, idx, layer.channels_out)
            packed = x[None] if not layer.binary_input else pack_signs(x)[None]
            fused_fb = single_op_model(
                float_fb,
                "BgnnEdgeConv",
                [
                    Tensor("x", packed.shape, packed.dtype.type),
                    ("indices", idx[None].astype(np.int32)),
                    ("weights", layer.weights),
                    ("modes", layer.rules.mode.astype(np.int32)),
                    ("bounds", layer.rules.bounds),
                ],
                [Tensor("y", (1, n, words(layer.channels_out)), np.int32)],
                {"channels_in": layer.channels_in, "channels_out": layer.channels_out},
            )
            paths[0].write_bytes(fused_fb)
            paths[1].write_bytes(float_fb)
            inputs[0].write_bytes(np.ascontiguousarray(packed).tobytes())
            inputs[1].write_bytes(np.ascontiguousarray(x[None], np.float32).tobytes())
            np.save(stem.with_name(f"{stem.name}-indices.npy"), idx)
            np.save(stem.with_name(f"{stem.name}-x.npy"), x)
        layers.append(
            FusedLayer(
                layer_name(i, layer.channels_in, layer.channels_out),
                i,
                n,
                layer.k,
                layer.channels_in,
                layer.channels_out,
                layer.binary_input,
                *paths,
                *inputs,
            )
        )
    return layers, build_embed_model(plan, n, folder, base=layers[0].float.read_bytes())


def build_embed_model(plan, n: int, folder: Path, *, base: bytes) -> EmbedModel:
    """BgnnEmbedPool alone over random packed features of the layers' widths."""
    from bgnn_deploy.converters.fusion.plan import pack_signs

    embed = plan.embed
    out = EmbedModel(
        n,
        tuple(embed.channels_in),
        embed.channels_out,
        folder / "embed-fused.tflite",
        folder / "embed-fused.raw",
    )
    if out.model.is_file() and out.input.is_file():
        return out
    rng = np.random.default_rng(7)
    features = [
        np.where(rng.random((n, c)) < 0.5, -1.0, 1.0).astype(np.float32) for c in embed.channels_in
    ]
    packed = [pack_signs(f)[None] for f in features]
    options = {"channels_out": embed.channels_out, "inputs": len(packed)}
    options.update({f"channels_in_{i}": c for i, c in enumerate(embed.channels_in)})
    fb = single_op_model(
        base,
        "BgnnEmbedPool",
        [
            *(Tensor(f"x{i}", p.shape, np.int32) for i, p in enumerate(packed)),
            ("filters", embed.filters),
            ("params", embed.params),
        ],
        [Tensor("pooled", (1, 2 * embed.channels_out), np.float32)],
        options,
    )
    out.model.write_bytes(fb)
    out.input.write_bytes(b"".join(np.ascontiguousarray(p).tobytes() for p in packed))
    for i, f in enumerate(features):
        np.save(folder / f"embed-x{i}.npy", f)
    return out


def check_fused_layer(build: RunnerBuild, layer: FusedLayer, plan) -> None:
    """The runner's BgnnEdgeConv output must equal the NumPy reference bit for bit."""
    from bgnn_deploy.converters.fusion import reference
    from bgnn_deploy.converters.fusion.plan import pack_signs
    from bgnn_deploy.targets.execute import read_outputs, run_runner

    stem = layer.fused.with_name(f"edgeconv{layer.index + 1}")
    x = np.load(stem.with_name(f"{stem.name}-x.npy"))
    idx = np.load(stem.with_name(f"{stem.name}-indices.npy"))
    want = pack_signs(reference.edge_conv(plan.layers[layer.index], x, idx))
    out = stem.with_name(f"{stem.name}-out.raw")
    result = run_runner(
        build, layer.fused, num_runs=1, input_path=layer.fused_input, output_path=out
    )
    (got,) = read_outputs(result, out)
    if not np.array_equal(got.reshape(want.shape), want):
        wrong = int((got.reshape(want.shape) != want).any(-1).sum())
        raise RuntimeError(
            f"{layer.name}: BgnnEdgeConv's output differs from the reference in {wrong} of "
            f"{layer.n} nodes"
        )


def check_embed(build: RunnerBuild, embed: EmbedModel, plan) -> None:
    """BgnnEmbedPool through the runner against the reference (float rounding allowed:
    its mean is taken in double)."""
    from bgnn_deploy.converters.fusion import reference
    from bgnn_deploy.targets.execute import read_outputs, run_runner

    folder = embed.model.parent
    features = [np.load(folder / f"embed-x{i}.npy") for i in range(len(embed.channels_in))]
    want = reference.embed_pool(plan.embed, features)
    out = folder / "embed-out.raw"
    result = run_runner(build, embed.model, num_runs=1, input_path=embed.input, output_path=out)
    (got,) = read_outputs(result, out)
    if not np.allclose(got.reshape(-1), want, rtol=1e-5, atol=1e-5):
        raise RuntimeError(
            "BgnnEmbedPool's output differs from the reference: max |difference| "
            f"{float(np.abs(got.reshape(-1) - want).max()):.3g}"
        )


def measure_fused_layers(
    build: RunnerBuild,
    nets: NetworkSet,
    layers: list[FusedLayer],
    embed: EmbedModel,
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> dict:
    """Fused vs float per EdgeConv layer (host, one thread, interleaved rounds), after
    checking every fused model against the reference."""
    plan = fusion_plan(nets.checkpoint)
    for layer in layers:
        check_fused_layer(build, layer, plan)
    check_embed(build, embed, plan)
    rows = []
    for i, layer in enumerate(layers, 1):
        say(f"fused EdgeConv {i}/{len(layers)}: {layer.name} ({nets.size} size)")
        fused = RunnerSide(
            build, layer.fused, budget_s=budget_s, profile_ops=True, input_path=layer.fused_input
        )
        float_ = RunnerSide(
            build, layer.float, budget_s=budget_s, profile_ops=True, input_path=layer.float_input
        )
        values = interleaved([("fused", fused), ("float", float_)], rounds)
        rows.append(
            {
                **layer.to_dict(),
                "fused_ms": values["fused"],
                "float_ms": values["float"],
                "runs_per_invocation": {"fused": fused.runs, "float": float_.runs},
                "speedup": ratio_spread(values["float"], values["fused"]).to_dict(),
                "fused_ops_profile": ops_profile(fused.last),
                "float_ops_profile": ops_profile(float_.last),
                "isa": fused.last.isa,
                "checked": "BgnnEdgeConv output == NumPy reference, bit for bit",
            }
        )
    return {
        "size": nets.size,
        "layers": rows,
        "embed": {
            "n": embed.n,
            "channels_in": list(embed.channels_in),
            "channels_out": embed.channels_out,
            "macs": embed.macs,
            "model": str(embed.model),
            "checked": "BgnnEmbedPool output == NumPy reference within 1e-5",
        },
    }
