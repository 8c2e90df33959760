"""Section 4: Hamming k-NN (k = 20) three ways, on the same data, one thread:

- ours: a model holding only the ``BgnnHammingKnn`` op, run by our runner, in both of
  its input forms: float ±1 rows (what ``--knn fused`` writes; its time includes
  packing them into bits) and bit-packed int32 words (what ``--fuse`` writes, where
  BgnnEdgeConv hands the next layer packed features);
- builtin: the graph our backend emits for ``--knn builtin`` (SIGN, then the ±1 rows'
  dot products as BATCH_MATMUL/FULLY_CONNECTED, then TOPK_V2) through the same runner
  with LiteRT's builtin kernels and XNNPACK;
- FAISS ``IndexBinaryFlat(C)``: add the N bit-packed rows, search the same N rows for
  k neighbours (the index is rebuilt per call, as a GNN layer has new features each
  time), with OpenMP set to one thread.

Before timing, every method's neighbours are checked: both forms of ours and the builtin
graph must return identical indices (one tie rule), and their Hamming distances must
equal FAISS's row by row (FAISS may order equal distances differently).

Like for like: the builtin graph takes the same float rows as our float form; FAISS
takes the same packed bits as our packed form (its codes are packed before timing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.stats import interleaved, ratio_spread, runs_for
from benchmarks.timing import RunnerSide, median_call_ms

if TYPE_CHECKING:
    from bgnn_deploy.targets.build import RunnerBuild

__all__ = ["build_knn_models", "measure_knn"]

K = 20


def build_knn_models(n: int, c: int, folder: Path) -> tuple[Path, Path, Path]:
    """(fused, builtin, packed) .tflite for N rows of C channels (reused when present):
    BgnnHammingKnn on float rows, the builtin graph, BgnnHammingKnn on packed words."""
    from bgnn_deploy.converters.backends.keras_lce import KerasGraph, convert_to_tflite
    from bgnn_deploy.converters.knn_fusion import fuse_hamming_knn

    from benchmarks.fused import Tensor, single_op_model, words
    from benchmarks.layers import _keras

    folder.mkdir(parents=True, exist_ok=True)
    fused, builtin = folder / f"knn-{n}x{c}-fused.tflite", folder / f"knn-{n}x{c}-builtin.tflite"
    packed = folder / f"knn-{n}x{c}-packed.tflite"
    if fused.is_file() and builtin.is_file() and packed.is_file():
        return fused, builtin, packed
    tf, _ = _keras()
    keras = tf.keras

    def knn_model(sign: bool):
        x = keras.Input((n, c), batch_size=1, name="x")
        rows = tf.sign(x) if sign else x
        _, idx = tf.math.top_k(tf.matmul(rows, rows, transpose_b=True), k=K)
        return keras.Model(x, keras.layers.Identity(name="indices")(idx))

    builtin.write_bytes(convert_to_tflite(KerasGraph(knn_model(True), ["indices"]), binary=False))
    plain = convert_to_tflite(KerasGraph(knn_model(False), ["indices"]), binary=False)
    data, fused_count = fuse_hamming_knn(plain)
    if fused_count != 1:
        raise RuntimeError(f"expected one fused k-NN in the {n}x{c} model, found {fused_count}")
    fused.write_bytes(data)
    packed.write_bytes(
        single_op_model(
            data,
            "BgnnHammingKnn",
            [Tensor("x", (1, n, words(c)), np.int32)],
            [Tensor("indices", (1, n, K), np.int32)],
            {"k": K, "tie_rule": "lower_index"},
        )
    )
    return fused, builtin, packed


def _hamming_rows(bits: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sorted Hamming distances of each row to the neighbours ``idx`` names."""
    return np.sort((bits[:, None, :] != bits[idx]).sum(-1), axis=1)


def _check(build, models: dict[str, tuple[Path, Path]], x: np.ndarray, faiss_d, work: Path):
    """models: name -> (model, its input file)."""
    from bgnn_deploy.targets.execute import read_outputs, run_runner

    got = {}
    for name, (model, x_path) in models.items():
        out = work / f"{name}.out"
        result = run_runner(build, model, num_runs=1, input_path=x_path, output_path=out)
        got[name] = read_outputs(result, out)[0].reshape(x.shape[1], K)
    if not np.array_equal(got["fused"], got["builtin"]):
        raise RuntimeError("BgnnHammingKnn and the builtin graph returned different neighbours")
    if not np.array_equal(got["packed"], got["fused"]):
        raise RuntimeError("BgnnHammingKnn on packed words and on float rows differ")
    bits = x[0] < 0
    if not np.array_equal(_hamming_rows(bits, got["fused"]), np.sort(faiss_d, axis=1)):
        raise RuntimeError("our k-NN distances differ from FAISS's")


def measure_knn(
    build: RunnerBuild,
    sizes: list[tuple[int, int]],
    work: Path,
    *,
    rounds: int,
    budget_s: float,
    say: Callable[[str], None],
) -> list[dict]:
    """Per (N, C): medians per round of the three methods and the two ratios."""
    import faiss
    from bgnn_deploy.converters.fusion.plan import pack_signs

    faiss.omp_set_num_threads(1)
    rows = []
    for i, (n, c) in enumerate(sizes, 1):
        say(f"k-NN {i}/{len(sizes)}: N={n}, C={c}, k={K}")
        fused, builtin, packed = build_knn_models(n, c, work / "knn")
        rng = np.random.default_rng(n * 1000 + c)
        x = np.where(rng.random((1, n, c)) < 0.5, -1.0, 1.0).astype(np.float32)
        x_path = work / "knn" / f"x-{n}x{c}.raw"
        x_path.write_bytes(x.tobytes())
        words_path = work / "knn" / f"x-{n}x{c}-packed.raw"
        words_path.write_bytes(pack_signs(x[0]).tobytes())
        codes = np.packbits(x[0] < 0, axis=-1, bitorder="little")

        def faiss_search(codes=codes, c=c):
            index = faiss.IndexBinaryFlat(c)
            index.add(codes)
            return index.search(codes, K)

        models = {
            "fused": (fused, x_path),
            "builtin": (builtin, x_path),
            "packed": (packed, words_path),
        }
        _check(build, models, x, faiss_search()[0], work / "knn")
        probe = median_call_ms(faiss_search, 2)
        faiss_calls = runs_for(probe, budget_s, lo=3, hi=200)
        sides = [
            ("ours", RunnerSide(build, fused, budget_s=budget_s, input_path=x_path)),
            ("packed", RunnerSide(build, packed, budget_s=budget_s, input_path=words_path)),
            ("builtin", RunnerSide(build, builtin, budget_s=budget_s, input_path=x_path)),
            ("faiss", lambda f=faiss_search, k=faiss_calls: median_call_ms(f, k)),
        ]
        values = interleaved(sides, rounds)
        rows.append(
            {
                "n": n,
                "c": c,
                "k": K,
                "ours_ms": values["ours"],
                "packed_ms": values["packed"],
                "builtin_ms": values["builtin"],
                "faiss_ms": values["faiss"],
                "faiss_calls_per_round": faiss_calls,
                "vs_builtin": ratio_spread(values["builtin"], values["ours"]).to_dict(),
                "vs_faiss": ratio_spread(values["faiss"], values["ours"]).to_dict(),
                "packed_vs_builtin": ratio_spread(values["builtin"], values["packed"]).to_dict(),
                "packed_vs_faiss": ratio_spread(values["faiss"], values["packed"]).to_dict(),
                "checked": "ours (both forms) == builtin indices; distances == FAISS",
            }
        )
    return rows
