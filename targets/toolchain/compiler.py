"""Compile the C runner with zig (PyPI ``ziglang``): one compiler for every target.

Boards get ``-target aarch64-linux-gnu.2.28`` (the binary needs only glibc 2.17 symbols);
the host gets a native build. Results are cached by a hash of the sources, flags and
zig version, so an unchanged runner is never rebuilt.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from bgnn_deploy.targets.toolchain.cache import cache_dir
from bgnn_deploy.targets.toolchain.runtimes import ToolchainError

__all__ = ["RUNNER_DIR", "compile_runner", "zig_target"]

RUNNER_DIR = Path(__file__).resolve().parent.parent / "runner"
SOURCES = [
    "main.c",
    "runtime_tflite.c",
    "runtime_litert.c",
    "flexbuffers.c",
    "node_profile.c",
    "ops/tflite_c_api.c",
    "ops/op_impl.c",
    "core/bitpack.c",
    "core/bconv2d.c",
    "core/bgemm.c",
    "core/bgemm-reference.c",
    "core/bgemm-neon.c",
    "core/bgemm-avx2.c",
    "core/bgemm-avx512.c",
    "core/bmaxpool.c",
    "core/dispatch.c",
    "core/hamming_knn.c",
    "core/l2_knn.c",
    "core/edgeconv.c",
    "core/edge_extremes.c",
    "core/edge_extremes-reference.c",
    "core/edge_extremes-neon.c",
    "core/edgeconv_float.c",
    "core/embed_pool.c",
    "core/embed_stats.c",
    "core/embed_stats-neon.c",
    "core/parallel.c",
    "core/xor_popcount-reference.c",
    "core/xor_popcount-neon.c",
    "core/xor_popcount-avx2.c",
    "core/xor_popcount-avx512.c",
]
FLAGS = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wno-unused-function"]
LIBS = ["-ldl", "-lm", "-pthread"]  # -pthread: core/parallel.c's worker threads


def zig_target(arch: str, native: bool) -> list[str]:
    if native:
        return []
    return [
        "-target",
        {"aarch64": "aarch64-linux-gnu.2.28", "x86_64": "x86_64-linux-gnu.2.28"}[arch],
    ]


def _zig() -> list[str]:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise ToolchainError(
            "the zig compiler (PyPI 'ziglang') is not installed", hint="pip install ziglang"
        ) from None
    return [sys.executable, "-m", "ziglang"]


def compile_runner(arch: str, *, native: bool) -> Path:
    """Build (or reuse) the runner for ``arch``; returns the binary's path."""
    zig = _zig()
    target = zig_target(arch, native)
    digest = hashlib.sha256()
    version = subprocess.run([*zig, "version"], capture_output=True, text=True, check=False)
    digest.update(version.stdout.encode())
    for part in (*FLAGS, *LIBS, *target, arch):
        digest.update(part.encode())
    for rel in sorted(
        p.relative_to(RUNNER_DIR).as_posix()
        for p in RUNNER_DIR.rglob("*")
        if p.suffix in (".c", ".h", ".inc")
    ):
        digest.update(rel.encode())
        digest.update((RUNNER_DIR / rel).read_bytes())
    folder = cache_dir("runners", f"{arch}-{digest.hexdigest()[:16]}")
    binary = folder / "bgnn-runner"
    if binary.is_file():
        return binary
    tmp = folder / "bgnn-runner.tmp"
    cmd = [
        *zig,
        "cc",
        *target,
        *FLAGS,
        "-o",
        str(tmp),
        *[str(RUNNER_DIR / s) for s in SOURCES],
        *LIBS,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise ToolchainError(
            f"compiling the runner for {arch} failed:\n{done.stderr.strip()[-2000:]}"
        )
    tmp.replace(binary)
    return binary
