"""core/parallel.c (the thread pool of our kernels) through ctypes: every row exactly once
in ranges of at least `grain` rows with worker indices in range, and kernels whose outputs
are bit-identical whatever the thread count."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from tests.targets.kernels import BconvParams, library, ptr

RNG = np.random.default_rng(11)


def cover(n: int, grain: int, spin: int = 0):
    lib = library()
    visits = np.zeros(max(n, 1), np.int32)
    worker = np.full(max(n, 1), -1, np.int32)
    out = np.zeros(3, np.int32)
    lib.bgnn_probe_parallel_cover(n, grain, spin, ptr(visits), ptr(worker), ptr(out))
    return visits[:n], worker[:n], out


@pytest.mark.parametrize("threads", [1, 2, 3, 4, 8])
def test_every_row_once_in_ranges_of_at_least_grain(pool_threads, threads):
    pool_threads(threads)
    for n in (0, 1, 2, 3, 5, 8, 17, 63, 64, 65, 100, 1000, 4097):
        for grain in (1, 2, 3, 4, 16, 100):
            visits, worker, (min_range, bad_worker, ranges) = cover(n, grain, spin=50)
            where = f"n={n} grain={grain} threads={threads}"
            assert (visits == 1).all(), where
            assert not bad_worker and ((worker >= 0) & (worker < threads)).all(), where
            if n >= 2 * grain:
                assert min_range >= grain, where
                assert ranges <= 4 * threads, where  # at most 4 chunks per thread
            elif n > 0:
                assert ranges == 1 and (worker == 0).all(), where  # inline on the caller


def test_work_is_shared_and_thread_count_can_change(pool_threads):
    lib = library()
    for threads in (4, 2, 3, 1, 2):  # workers started for 4 stay; fewer take part later
        pool_threads(threads)
        assert lib.bgnn_parallel_threads() == threads
        visits, worker, _ = cover(4096, 16, spin=2000)
        assert (visits == 1).all() and worker.max() < threads
    pool_threads(0)
    assert lib.bgnn_parallel_threads() == 1  # clamped to >= 1
    pool_threads(1000)
    assert lib.bgnn_parallel_threads() == 64  # and to the pool's limit


def packed(lib, x: np.ndarray) -> np.ndarray:
    rows, channels = x.reshape(-1, x.shape[-1]).shape
    out = np.zeros((rows, (channels + 31) // 32), np.uint32)
    lib.bgnn_bitpack32(ptr(np.ascontiguousarray(x, np.float32)), rows, channels, ptr(out))
    return out


def pm1(*shape) -> np.ndarray:
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def each_thread_count(pool_threads, run):
    """run() under 1, 2 and 3 threads; all results must be equal, byte for byte."""
    results = []
    for threads in (1, 2, 3):
        pool_threads(threads)
        results.append(run())
    for other in results[1:]:
        assert other.tobytes() == results[0].tobytes()
    return results[0]


@pytest.mark.parametrize(
    "shape,cout,kernel,stride,same",
    [
        ((1, 2560, 1, 64), 64, 1, 1, False),  # an EdgeConv's edges: the pointwise GEMM
        ((1, 1001, 1, 130), 37, 1, 1, False),  # odd words and a short last block
        ((2, 15, 13, 40), 24, 3, 1, True),  # the general path, SAME padding
        ((1, 17, 16, 33), 9, 3, 2, False),
    ],
)
def test_bconv2d_identical_for_any_thread_count(pool_threads, shape, cout, kernel, stride, same):
    lib = library()
    batch, h, w, cin = shape
    xp = packed(lib, pm1(*shape)).reshape(batch, h, w, -1)
    wp = packed(lib, pm1(cout, kernel, kernel, cin)).reshape(cout, kernel, kernel, -1)
    mul = RNG.uniform(0.5, 1.5, cout).astype(np.float32)
    bias = RNG.normal(size=cout).astype(np.float32)
    thresholds = RNG.integers(0, kernel * kernel * cin, cout).astype(np.int32)
    p = BconvParams(
        batch=batch, in_h=h, in_w=w, channels_in=cin, channels_out=cout,
        kernel_h=kernel, kernel_w=kernel, stride_h=stride, stride_w=stride,
        dilation_h=1, dilation_w=1, clamp_lo=-(2**31), clamp_hi=2**31 - 1,
    )  # fmt: skip
    lib.bgnn_conv_output_size(ctypes.byref(p), int(same))
    positions = batch * p.out_h * p.out_w

    def float_out():
        out = np.zeros((positions, cout), np.float32)
        args = (ptr(xp), ptr(wp), ptr(mul), ptr(bias), ptr(out), None)
        assert lib.bgnn_bconv2d_float(ctypes.byref(p), *args)
        return out

    def bitpacked_out():
        out = np.zeros((positions, (cout + 31) // 32), np.uint32)
        args = (ptr(xp), ptr(wp), ptr(thresholds), ptr(out), None)
        assert lib.bgnn_bconv2d_bitpacked(ctypes.byref(p), *args)
        return out

    y = each_thread_count(pool_threads, float_out)
    assert np.unique(y).size > 2  # not a degenerate output
    each_thread_count(pool_threads, bitpacked_out)


@pytest.mark.parametrize(
    "n,channels,k", [(1000, 64, 20), (256, 130, 10), (2000, 8, 20), (9, 40, 3)]
)
def test_hamming_knn_identical_for_any_thread_count(pool_threads, n, channels, k):
    lib = library()
    x = packed(lib, pm1(n, channels))
    lib.bgnn_hamming_knn_scratch.restype = ctypes.c_size_t
    scratch = np.zeros(lib.bgnn_hamming_knn_scratch(n, x.shape[1]), np.int32)

    def knn():
        out = np.full((n, k), -1, np.int32)
        assert lib.bgnn_hamming_knn(ptr(x), n, x.shape[1], k, ptr(out), ptr(scratch))
        return out

    out = each_thread_count(pool_threads, knn)
    assert ((out >= 0) & (out < n)).all()
    assert (np.diff(np.sort(out, axis=1), axis=1) > 0).all()  # k distinct rows each
