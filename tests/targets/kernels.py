"""The core/ kernels as a native shared library, through ctypes, for NumPy comparisons."""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from bgnn_deploy.targets.toolchain.cache import cache_dir
from bgnn_deploy.targets.toolchain.compiler import RUNNER_DIR, SOURCES

# the runner's core/ sources, as the runner build lists them
CORE = [s.removeprefix("core/") for s in SOURCES if s.startswith("core/")]


class BconvParams(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_int32)
        for name in (
            "batch",
            "in_h",
            "in_w",
            "channels_in",
            "out_h",
            "out_w",
            "channels_out",
            "kernel_h",
            "kernel_w",
            "stride_h",
            "stride_w",
            "dilation_h",
            "dilation_w",
            "pad_top",
            "pad_left",
            "pad_value",
            "clamp_lo",
            "clamp_hi",
        )
    ]


class BgemmFilters(ctypes.Structure):
    """bgemm.h's bgnn_bgemm_filters: repacked filters kept between calls (its layout is
    checked against bgnn_bgemm_filters_layout by a test)."""

    _fields_: ClassVar = [
        ("channels_out", ctypes.c_int32),
        ("words64", ctypes.c_int32),
        ("tiles", ctypes.c_int32),
        ("layout", ctypes.c_int32),
        ("packed", ctypes.c_void_p),
        ("source", ctypes.c_void_p),
        ("kernels", ctypes.c_void_p),
    ]


# types.h's bgnn_isa, by the names bgnn_isa_name gives them (kernels.inc lists the variants)
ISAS = {"scalar": 0, "neon": 1, "avx2": 2, "avx512": 3}
# the variants kernels.inc builds for this host
HOST_ISAS = ["scalar", "neon"] if platform.machine() == "aarch64" else ["scalar", "avx2", "avx512"]


def cpu_flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text()
    found = re.search(r"^(flags|Features)\s*:(.*)$", text, re.M)
    return set(found[2].split()) if found else set()


def cpu_has(isa: str) -> bool:
    flags = cpu_flags()
    return {
        "scalar": True,
        "neon": platform.machine() == "aarch64",
        "avx2": {"avx2", "popcnt"} <= flags,
        "avx512": {"avx512f", "avx512_vpopcntdq"} <= flags,
    }[isa]


def bgemm(lib: ctypes.CDLL, x: np.ndarray, filters: np.ndarray, rows_per_block: int) -> np.ndarray:
    """popcount(x_r XOR f_o) for packed rows x (rows x words32 uint32) and filters through
    the active variant's pack, load_rows and block; int32 rows x filters."""
    rows, words = x.shape
    cout = filters.shape[0]
    f = BgemmFilters()
    assert lib.bgnn_bgemm_pack(ctypes.byref(f), ptr(filters), cout, words)
    xs = np.zeros(rows_per_block * f.words64, np.uint64)
    acc = np.zeros((rows_per_block, cout), np.int32)
    out = np.zeros((rows, cout), np.int32)
    for i0 in range(0, rows, rows_per_block):
        n = min(rows_per_block, rows - i0)
        block = np.ascontiguousarray(x[i0 : i0 + n])
        lib.bgnn_bgemm_load_rows(ctypes.byref(f), ptr(block), n, words, ptr(xs))
        lib.bgnn_bgemm_block(ctypes.byref(f), ptr(xs), ptr(acc))
        out[i0 : i0 + n] = acc[:n]
    lib.bgnn_bgemm_free(ctypes.byref(f))
    return out


class BmaxpoolParams(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_int32)
        for name in (
            "batch",
            "in_h",
            "in_w",
            "words",
            "out_h",
            "out_w",
            "filter_h",
            "filter_w",
            "stride_h",
            "stride_w",
            "pad_top",
            "pad_left",
        )
    ]


def _sources_digest(*extra: Path) -> str:
    """A digest of the sources a test build compiles: builds of different checkouts (other
    worktrees, other sessions) never overwrite each other's."""
    digest = hashlib.sha256()
    for path in [*(RUNNER_DIR / "core").iterdir(), *extra]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def library() -> ctypes.CDLL:
    probe = RUNNER_DIR / "tests" / "parallel_probe.c"
    out = cache_dir("test-kernels") / f"libbgnn_core-{_sources_digest(probe)}.so"
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # other sessions may be loading `out`
    cmd = [
        sys.executable,
        "-m",
        "ziglang",
        "cc",
        "-O2",
        "-shared",
        "-fPIC",
        "-pthread",
        "-o",
        str(tmp),
        *[str(RUNNER_DIR / "core" / f) for f in CORE],
        str(RUNNER_DIR / "tests" / "parallel_probe.c"),  # bgnn_probe_* for test_parallel.py
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    tmp.replace(out)
    lib = ctypes.CDLL(str(out))
    lib.bgnn_dispatch_init()
    return lib


def ptr(array: np.ndarray):
    return array.ctypes.data_as(ctypes.c_void_p)


@cache
def kernel_tests_binary(arch: str) -> Path:
    """tests/kernel_tests.c with the core/ sources, for this host ("native") or `arch`."""
    from bgnn_deploy.targets.toolchain.compiler import zig_target

    native = arch == "native"
    digest = _sources_digest(RUNNER_DIR / "tests" / "kernel_tests.c")
    binary = cache_dir("test-kernels") / f"kernel_tests-{arch}-{digest}"
    tmp = binary.with_name(f"{binary.name}.{os.getpid()}.tmp")
    target = [] if native else zig_target(arch, native=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            *target,
            "-O2",
            "-pthread",
            "-o",
            str(tmp),
            str(RUNNER_DIR / "tests" / "kernel_tests.c"),
            *[str(RUNNER_DIR / "core" / f) for f in CORE],
        ],
        check=True,
        capture_output=True,
    )
    tmp.replace(binary)
    return binary


QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]


def compile_and_run_kernel_tests(
    arch: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs the kernel tests (no args: every check; see kernel_tests.c for the modes),
    under qemu for a foreign `arch` (a baseline build for this host's arch runs as it is)."""
    launcher = [] if arch in ("native", platform.machine()) else QEMU
    return subprocess.run(
        [*launcher, str(kernel_tests_binary(arch)), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


def bgemm_through_kernel_tests(
    arch: str, isa: str, cases: list[tuple[np.ndarray, np.ndarray]], folder: Path
) -> list[np.ndarray]:
    """The counts of each (packed rows, packed filters) case from kernel_tests' `bgemm`
    mode: one process (under qemu for a foreign arch) for all cases."""
    parts = [np.int32(len(cases)).tobytes()]
    for x, f in cases:
        parts += [np.array([x.shape[0], x.shape[1], f.shape[0]], np.int32).tobytes()]
        parts += [
            np.ascontiguousarray(x, np.uint32).tobytes(),
            np.ascontiguousarray(f, np.uint32).tobytes(),
        ]
    src, dst = folder / f"cases-{arch}-{isa}.bin", folder / f"counts-{arch}-{isa}.bin"
    src.write_bytes(b"".join(parts))
    done = compile_and_run_kernel_tests(arch, "bgemm", isa, str(src), str(dst))
    assert done.returncode == 0, done.stdout + done.stderr
    flat, out, at = np.fromfile(dst, np.int32), [], 0
    for x, f in cases:
        n = x.shape[0] * f.shape[0]
        out.append(flat[at : at + n].reshape(x.shape[0], f.shape[0]))
        at += n
    assert at == flat.size
    return out


def embed_through_kernel_tests(
    arch: str, isa: str, cases: list[tuple], folder: Path
) -> list[tuple[np.ndarray, int]]:
    """BgnnEmbedPool on each case (widths C_l, the packed features [N, words(C_l)] of each
    input, the packed filters [E, words(sum)], params [E, 4], direct: -1 as init decides,
    0 or 1 forced) through kernel_tests' `embed` mode, one process (under qemu for a
    foreign arch) for all: per case the output [2E] float32 and 1 if the direct path ran."""
    parts = [np.int32(len(cases)).tobytes()]
    for widths, packed, filters, params, direct in cases:
        head = [packed[0].shape[0], len(widths), params.shape[0], direct, *widths]
        parts.append(np.array(head, np.int32).tobytes())
        parts += [np.ascontiguousarray(x, np.uint32).tobytes() for x in packed]
        parts.append(np.ascontiguousarray(filters, np.uint32).tobytes())
        parts.append(np.ascontiguousarray(params, np.float32).tobytes())
    src, dst = folder / f"embed-{arch}-{isa}.bin", folder / f"embed-out-{arch}-{isa}.bin"
    src.write_bytes(b"".join(parts))
    done = compile_and_run_kernel_tests(arch, "embed", isa, str(src), str(dst))
    assert done.returncode == 0, done.stdout + done.stderr
    raw, out, at = dst.read_bytes(), [], 0
    for _, _, _, params, _ in cases:
        e = params.shape[0]
        y = np.frombuffer(raw, np.float32, 2 * e, at)
        ran = int(np.frombuffer(raw, np.int32, 1, at + 8 * e)[0])
        out.append((y, ran))
        at += 8 * e + 4
    assert at == len(raw)
    return out


def edgeconv_through_kernel_tests(arch: str, isa: str, cases: list[dict], folder: Path) -> list:
    """The output words of each binary BgnnEdgeConv case (dict of x packed [N, words],
    idx [N, k], weights int32 [Cout, 2, words], modes [Cout], bounds int32 [Cout, 2]) from
    kernel_tests' `edgeconv` mode: one process (under qemu for a foreign arch)."""
    parts = [np.int32(len(cases)).tobytes()]
    for case in cases:
        n, k = case["idx"].shape
        cout, cin = case["modes"].shape[0], case["channels_in"]
        parts.append(np.array([n, k, cin, cout], np.int32).tobytes())
        for key, dtype in (("x", np.uint32), ("idx", np.int32), ("weights", np.uint32)):
            parts.append(np.ascontiguousarray(case[key]).view(dtype).tobytes())
        parts.append(np.ascontiguousarray(case["modes"], np.int32).tobytes())
        parts.append(np.ascontiguousarray(case["bounds"], np.int32).tobytes())
    src, dst = folder / f"edge-{arch}-{isa}.bin", folder / f"edge-out-{arch}-{isa}.bin"
    src.write_bytes(b"".join(parts))
    done = compile_and_run_kernel_tests(arch, "edgeconv", isa, str(src), str(dst))
    assert done.returncode == 0, done.stdout + done.stderr
    flat, out, at = np.fromfile(dst, np.uint32), [], 0
    for case in cases:
        n, words = case["idx"].shape[0], -(-case["modes"].shape[0] // 32)
        out.append(flat[at : at + n * words].reshape(n, words))
        at += n * words
    assert at == flat.size
    return out


__all__ = [
    "ISAS",
    "QEMU",
    "BconvParams",
    "BgemmFilters",
    "BmaxpoolParams",
    "bgemm",
    "bgemm_through_kernel_tests",
    "compile_and_run_kernel_tests",
    "edgeconv_through_kernel_tests",
    "embed_through_kernel_tests",
    "kernel_tests_binary",
    "library",
    "ptr",
]
