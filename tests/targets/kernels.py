"""The core/ kernels as a native shared library, through ctypes, for NumPy comparisons."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from functools import cache
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
    """bgemm.h's bgnn_bgemm_filters: repacked filters kept between calls."""

    _fields_: ClassVar = [
        ("channels_out", ctypes.c_int32),
        ("words64", ctypes.c_int32),
        ("blocks", ctypes.c_int32),
        ("packed", ctypes.c_void_p),
        ("source", ctypes.c_void_p),
        ("rowwise", ctypes.c_int32),
    ]


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


@cache
def library() -> ctypes.CDLL:
    out = cache_dir("test-kernels") / "libbgnn_core.so"
    cmd = [
        sys.executable,
        "-m",
        "ziglang",
        "cc",
        "-O2",
        "-shared",
        "-fPIC",
        "-o",
        str(out),
        *[str(RUNNER_DIR / "core" / f) for f in CORE],
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    lib = ctypes.CDLL(str(out))
    lib.bgnn_dispatch_init()
    return lib


def ptr(array: np.ndarray):
    return array.ctypes.data_as(ctypes.c_void_p)


def compile_and_run_kernel_tests(arch: str) -> subprocess.CompletedProcess:
    from bgnn_deploy.targets.toolchain.compiler import zig_target

    native = arch == "native"
    binary = cache_dir("test-kernels") / f"kernel_tests-{arch}"
    target = [] if native else zig_target(arch, native=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ziglang",
            "cc",
            *target,
            "-O2",
            "-o",
            str(binary),
            str(RUNNER_DIR / "tests" / "kernel_tests.c"),
            *[str(RUNNER_DIR / "core" / f) for f in CORE],
        ],
        check=True,
        capture_output=True,
    )
    launcher = [] if native else ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    return subprocess.run(
        [*launcher, str(binary)], capture_output=True, text=True, timeout=300, check=False
    )


__all__ = ["BconvParams", "BmaxpoolParams", "compile_and_run_kernel_tests", "library", "ptr"]
