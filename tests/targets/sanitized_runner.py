"""The whole runner (main.c, the runtime glue, ops/, core/, flexbuffers.c: compiler.py's
SOURCES and defines) built with sanitizers and run end to end on real converted models,
through both runtime APIs, on good runs and on every kind of bad input main.c takes.

- ``litert`` (libLiteRt.so, ai-edge-litert 2.3.0, the x86_64 host's runtime): Debian's
  clang with ASan + UBSan + LeakSanitizer (`-fno-sanitize-recover=all`), run natively.
- ``tflite-c`` (libLiteRtRuntimeCApi.so, ai-edge-litert 1.4.0): that library exists for
  aarch64 only (the x86_64 1.x wheels export no C API), so this runner runs under
  qemu-aarch64 like the emulated board. Debian's x86_64 clang has no aarch64 ASan runtime
  (only ``libclang_rt.asan-{i386,x86_64}``), so it is built with zig (the runner's own
  compiler) with UBSan alone (zig's UBSan runtime, which aborts with ``panic: ...``).

Every case must end with the runner's JSON (success, or the error and stage expected)
and no sanitizer report. Builds are cached by a digest of their sources, compiler and
flags, under the tool's cache (``$BGNN_DEPLOY_CACHE``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bgnn_deploy.targets.toolchain import compiler
from bgnn_deploy.targets.toolchain.cache import cache_dir
from bgnn_deploy.targets.toolchain.runtimes import fetch_runtime

from tests.targets import fuzzing

LAUNCHER_AARCH64 = ("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu")
# the real build's defines and warnings, at -O0 -g: under ASan + UBSan clang 14 takes 36 s
# over core/edgeconv_float.c at -O1 (1 s at -O0), and the cases run small models
CFLAGS = [f for f in compiler.FLAGS if f != "-O2"] + ["-O0", "-g", "-fno-omit-frame-pointer"]
# zig's UBSan runtime reports a finding as "thread N panic: <what>" and aborts
FINDINGS = (*fuzzing.FINDINGS, "LeakSanitizer", " panic: ")


@dataclass(frozen=True)
class Build:
    api: str  # the --runtime_api this build runs
    binary: Path
    library: Path
    launcher: tuple[str, ...]
    sanitizers: str


def asan_runner() -> Path:
    return fuzzing.build(
        "runner-asan",
        [fuzzing.clang() or "clang", *CFLAGS, *fuzzing.SANITIZE],
        [compiler.RUNNER_DIR / s for s in compiler.SOURCES],
        compiler.LIBS,
    )


def ubsan_aarch64_runner() -> Path:
    zig = [sys.executable, "-m", "ziglang", "cc", *compiler.zig_target("aarch64", False)]
    return fuzzing.build(
        "runner-aarch64-ubsan",
        [*zig, *CFLAGS, "-fsanitize=undefined", "-fno-sanitize-recover=all"],
        [compiler.RUNNER_DIR / s for s in compiler.SOURCES],
        compiler.LIBS,
        version_cmd=[sys.executable, "-m", "ziglang", "version"],
    )


def builds() -> dict[str, Build]:
    """Both builds with the runtime library each loads (from the tool's runtimes cache)."""
    litert = fetch_runtime("litert", "x86_64").path
    tflite = fetch_runtime("tflite-c", "aarch64").path
    return {
        "litert": Build("litert", asan_runner(), litert, (), "ASan+UBSan+LSan"),
        "tflite-c": Build(
            "tflite-c", ubsan_aarch64_runner(), tflite, LAUNCHER_AARCH64, "UBSan (aarch64, qemu)"
        ),
    }


def sample_models() -> dict[str, Path]:
    """For `make sanitize`: what the test fixtures give pytest (tests/targets/conftest.py
    `converted` and `keras_dense`), a small BinDGCNN converted (LCE ops with the builtin
    k-NN, and with BgnnHammingKnn) and an unrelated Keras dense model. Cached in the tool's
    cache, keyed by a digest of the converter's and the models' code."""
    from bgnn_deploy import converters, models

    digest = hashlib.sha256()
    for package in (converters, models):
        for path in sorted(Path(package.__file__).parent.rglob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    folder = cache_dir("test-sanitize", f"models-{digest.hexdigest()[:16]}")
    paths = {
        "binary": folder / "fused" / "binary.tflite",
        "builtin": folder / "builtin" / "binary.tflite",
        "keras": folder / "dense.tflite",
    }
    if not all(p.is_file() for p in paths.values()):
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            _convert_samples(Path(tmp))
            for path in paths.values():
                path.parent.mkdir(exist_ok=True)
                (Path(tmp) / path.relative_to(folder)).replace(path)
    return paths


def _convert_samples(root: Path) -> None:
    from bgnn_deploy.converters.convert import convert_checkpoint
    from bgnn_deploy.converters.quiet import native_stderr_silenced

    from bgnn_deploy.models import ModelConfig
    from tests.converters.conftest import calibrated_checkpoint

    config = ModelConfig(
        arch="bin-dgcnn-bf2", knn="hamming", num_points=64, k=6, widths=(16, 24, 32), emb=32,
        mlp=(24,), classes=4,
    )  # fmt: skip
    calibrated_checkpoint(root / "m.pt", config)
    convert_checkpoint(root / "m.pt", root / "builtin", samples=1, verify=False)
    convert_checkpoint(root / "m.pt", root / "fused", samples=1, knn="fused", verify=False)
    with native_stderr_silenced():
        import tensorflow as tf

        inputs = tf.keras.Input((16,))
        hidden = tf.keras.layers.Dense(8, activation="relu")(inputs)
        keras = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(hidden))
        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(keras).convert()
    (root / "dense.tflite").write_bytes(flatbuffer)


@dataclass
class Files:
    """What the cases run on, for one runtime API: its models (prepared for LiteRt when it
    is LiteRt's), the right input for `binary`, and bad files."""

    work: Path
    models: dict[str, Path]
    input_bytes: int

    @classmethod
    def make(cls, models: dict[str, Path], api: str, work: Path) -> Files:
        from bgnn_deploy.converters.litert_prepare import prepare_for_litert
        from bgnn_deploy.converters.tflite_model import summarize

        work.mkdir(parents=True, exist_ok=True)
        ready = {}
        for name, path in models.items():
            data = path.read_bytes()
            ready[name] = work / f"{name}.tflite"
            ready[name].write_bytes(prepare_for_litert(data) if api == "litert" else data)
        shape = summarize(models["binary"].read_bytes()).inputs[0]["shape"]
        files = cls(work, ready, 4 * math.prod(shape))  # float32 points
        x = np.random.default_rng(0).normal(size=files.input_bytes // 4).astype("<f4")
        (work / "x.raw").write_bytes(x.tobytes())
        (work / "short.raw").write_bytes(b"\0" * 5)
        (work / "long.raw").write_bytes(b"\0" * (files.input_bytes + 4))
        (work / "garbage.tflite").write_bytes(os.urandom(4096))
        fake = bytearray(os.urandom(4096))
        fake[4:8] = b"TFL3"  # the identifier main.c checks: the runtime must refuse it
        (work / "garbage-tfl3.tflite").write_bytes(bytes(fake))
        data = ready["binary"].read_bytes()
        (work / "truncated.tflite").write_bytes(data[: len(data) // 2])
        # a valid model followed by bytes that begin an op's name, up to the file's end
        (work / "trailing-name.tflite").write_bytes(data + b"LceBconv2")
        return files


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[Files, Build], list[str]]
    exit_code: int = 0
    stage: str | None = None  # None: a successful run
    error: str = ""  # in the JSON's "error"
    check: Callable[[dict, Files], None] | None = None
    apis: tuple[str, ...] = ("litert", "tflite-c")
    timeout: float = 120


def _base(files: Files, build: Build, graph: str = "binary") -> list[str]:
    path = files.models[graph] if graph in files.models else files.work / graph
    return ["--graph", str(path), "--runtime", str(build.library), "--runtime_api", build.api]


def _runs(n: int = 1, warmup: int = 0) -> list[str]:
    return ["--num_runs", str(n), "--warmup_runs", str(warmup)]


def _output_matches(result: dict, files: Files) -> None:
    data = (files.work / "out.raw").read_bytes()
    assert len(data) == sum(o["bytes"] for o in result["outputs"]) > 0, result["outputs"]


def _timed(result: dict, files: Files) -> None:
    assert result["latency_ms"]["runs"] == 3 and len(result["runs_ms"]) == 3
    assert result["num_threads"] == 2
    # the per-node profile: our ops and the rest by op type, every node
    assert {"LceBconv2d", "BgnnHammingKnn", "other (unattributed)"} <= set(result["ops"])
    assert result["profile"]["source"] in ("litert-profiler", "tflite-telemetry")
    assert {"LceBconv2d", "BgnnHammingKnn"} <= {n["op"] for n in result["nodes"]}
    _output_matches(result, files)


def _keras(result: dict, files: Files) -> None:
    assert [o["shape"] for o in result["outputs"]] == [[1, 3]]


CASES = [
    Case(
        "timed-profiled-output",
        lambda f, b: [
            *_base(f, b),
            *_runs(3, 1),
            "--num_threads",
            "2",
            "--enable_op_profiling",
            "--output",
            str(f.work / "out.raw"),
            "--tag",
            "bgnn-sanitize",
        ],
        check=_timed,
    ),
    Case(
        "input-and-output",
        lambda f, b: [
            *_base(f, b),
            *_runs(),
            "--input",
            str(f.work / "x.raw"),
            "--output",
            str(f.work / "out.raw"),
        ],
        check=_output_matches,
    ),
    Case("builtin-knn-model", lambda f, b: [*_base(f, b, "builtin"), *_runs(2, 1)]),
    Case("unrelated-keras-model", lambda f, b: [*_base(f, b, "keras"), *_runs(2)], check=_keras),
    Case(
        "trailing-op-name",  # was a heap overflow read in runtime_litert.c find_node_names
        lambda f, b: [*_base(f, b, "trailing-name.tflite"), *_runs()],
    ),
    Case(
        "graph-missing",
        lambda f, b: [*_base(f, b, "no-such.tflite"), *_runs()],
        4,
        "model",
        "cannot read",
    ),
    Case(
        "graph-a-directory",  # was ASan: malloc(2^63 - 1), ftell of an ext4 directory
        lambda f, b: [*_base(f, b, "."), *_runs()],
        4,
        "model",
        "is not a regular file",
    ),
    Case(
        "graph-garbage",
        lambda f, b: [*_base(f, b, "garbage.tflite"), *_runs()],
        4,
        "model",
        "is not a TFLite flatbuffer",
    ),
    Case(
        "graph-garbage-with-identifier",
        lambda f, b: [*_base(f, b, "garbage-tfl3.tflite"), *_runs()],
        4,
        "model",
        "the runtime rejected the model",
    ),
    Case(
        "graph-truncated",
        lambda f, b: [*_base(f, b, "truncated.tflite"), *_runs()],
        4,
        "model",
        "the runtime rejected the model",
    ),
    Case(
        "runtime-missing",
        lambda f, b: [
            *_base(f, b)[:2],
            "--runtime",
            "/nonexistent/lib.so",
            "--runtime_api",
            b.api,
            *_runs(),
        ],
        3,
        "runtime",
        "cannot load the",
    ),
    Case(
        "runtime-not-a-library",
        lambda f, b: [
            *_base(f, b)[:2],
            "--runtime",
            str(f.work / "garbage.tflite"),
            "--runtime_api",
            b.api,
            *_runs(),
        ],
        3,
        "runtime",
        "cannot load the",
    ),
    Case(
        "runtime-of-the-other-api",
        lambda f, b: [*_base(f, b)[:5], "litert" if b.api == "tflite-c" else "tflite-c", *_runs()],
        3,
        "runtime",
        "does not export",
    ),
    Case(
        "runtime-api-unknown",
        lambda f, b: [*_base(f, b)[:5], "tflite", *_runs()],
        2,
        "arguments",
        "--runtime_api must be tflite-c or litert, not 'tflite'",
    ),
    Case(
        "num-runs-not-a-number",
        lambda f, b: [*_base(f, b), "--num_runs", "abc"],
        2,
        "arguments",
        "--num_runs must be an integer from 1 to 10000000, not 'abc'",
    ),
    Case(
        "num-runs-negative",
        lambda f, b: [*_base(f, b), "--num_runs", "-3"],
        2,
        "arguments",
        "--num_runs must be an integer from 1 to 10000000, not '-3'",
    ),
    Case(
        "num-runs-past-int",  # atoi's undefined behaviour; glibc gave 1410065407
        lambda f, b: [*_base(f, b), "--num_runs", "9999999999"],
        2,
        "arguments",
        "--num_runs must be an integer from 1 to 10000000, not '9999999999'",
    ),
    Case(
        "num-threads-zero",
        lambda f, b: [*_base(f, b), *_runs(), "--num_threads", "0"],
        2,
        "arguments",
        "--num_threads must be an integer from 1 to 1024, not '0'",
    ),
    Case(
        "min-secs-nan",  # was a run that never ends (no time is >= nan)
        lambda f, b: [*_base(f, b), *_runs(), "--min_secs", "nan"],
        2,
        "arguments",
        "--min_secs must be a number of seconds from 0 to 86400, not 'nan'",
        timeout=30,
    ),
    Case(
        "argument-incomplete",
        lambda f, b: [*_base(f, b), "--num_runs"],
        2,
        "arguments",
        "unknown or incomplete argument '--num_runs'",
    ),
    Case(
        "input-missing",
        lambda f, b: [*_base(f, b), *_runs(), "--input", str(f.work / "no-such.raw")],
        2,
        "input",
        "cannot read",
    ),
    Case(
        "input-too-short",
        lambda f, b: [*_base(f, b), *_runs(), "--input", str(f.work / "short.raw")],
        2,
        "input",
        "has 5 bytes, the model needs more",
    ),
    Case(
        "input-too-long",
        lambda f, b: [*_base(f, b), *_runs(), "--input", str(f.work / "long.raw")],
        2,
        "input",
        "the model takes",
    ),
    Case(
        "output-in-a-missing-folder",
        lambda f, b: [*_base(f, b), *_runs(), "--output", str(f.work / "no-such" / "y.raw")],
        2,
        "output",
        "cannot write",
    ),
    Case(
        "output-disk-full",  # was a success with an empty output file (fclose's error unread)
        lambda f, b: [*_base(f, b), *_runs(), "--output", "/dev/full"],
        2,
        "output",
        "cannot write /dev/full",
    ),
]


@dataclass
class Outcome:
    returncode: int
    result: dict
    stdout: str
    stderr: str
    findings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-1500:]}\n{self.stderr[-5000:]}"


def env() -> dict[str, str]:
    # LeakSanitizer on (the default with ASan); each finding aborts the process
    return {
        **os.environ,
        "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1",
        "UBSAN_OPTIONS": "print_stacktrace=1",
    }


def run(build: Build, case: Case, files: Files) -> Outcome:
    cmd = [*build.launcher, str(build.binary), *case.args(files, build)]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            env=env(),
            timeout=case.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        said = (e.stderr or b"")[-3000:]
        raise AssertionError(f"{case.name}: no end after {case.timeout} s: {said!r}") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    found = [line for line in done.stderr.splitlines() if any(f in line for f in FINDINGS)]
    return Outcome(done.returncode, result, done.stdout, done.stderr, found)


def check(build: Build, case: Case, files: Files) -> Outcome:
    """Runs the case; AssertionError unless it ended as expected with no finding."""
    out = run(build, case, files)
    what = f"{case.name} ({build.api}): {out.describe()}"
    assert not out.findings, what
    assert out.returncode == case.exit_code, what
    if case.stage is None:
        assert "latency_ms" in out.result and "error" not in out.result, what
        assert out.result["runtime_api"] == build.api, what
    else:
        assert out.result.get("stage") == case.stage, what
        assert case.error in out.result.get("error", ""), what
        assert out.result.get("exit_code") == case.exit_code, what
    if case.check is not None:
        case.check(out.result, files)
    return out


def run_all(models: dict[str, Path], work: Path) -> int:
    """`make sanitize`'s part: every case through both builds; prints one line per case."""
    failures = 0
    for api, build in builds().items():
        files = Files.make(models, api, work / api)
        for case in CASES:
            if api not in case.apis:
                continue
            try:
                check(build, case, files)
                print(f"   ok  {api:8} {case.name}")
            except AssertionError as e:
                failures += 1
                print(f"   FAIL {api:8} {case.name}\n{e}")
    return failures
