"""core/ kernels against NumPy references, and every ISA variant against the scalar one."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from tests.targets.kernels import (
    BconvParams,
    BgemmFilters,
    BmaxpoolParams,
    compile_and_run_kernel_tests,
    library,
    ptr,
)

RNG = np.random.default_rng(0)


def np_pack32(x: np.ndarray) -> np.ndarray:
    """LCE's layout: bit c%32 of word c/32 is (x < 0); padding bits 0."""
    rows, c = x.shape
    words = (c + 31) // 32
    bits = np.zeros((rows, words * 32), dtype=np.uint64)
    bits[:, :c] = x < 0
    weights = 1 << np.arange(32, dtype=np.uint64)
    return (bits.reshape(rows, words, 32) * weights).sum(-1).astype(np.uint32)


def pm1(*shape) -> np.ndarray:
    return np.where(RNG.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 31, 32, 33, 34, 64, 65, 70])
def test_bitpack_and_unpack_against_numpy(channels):
    lib = library()
    x = RNG.normal(size=(5, channels)).astype(np.float32)
    x[0, 0] = 0.0  # zero packs as +1
    x[1, 0] = -0.0  # so does negative zero (LCE's x86 rule)
    x[2, -1] = x[3, 0] = np.nan  # and NaN (an ordered comparison)
    out = np.zeros((5, (channels + 31) // 32), dtype=np.uint32)
    lib.bgnn_bitpack32(ptr(x), 5, channels, ptr(out))
    np.testing.assert_array_equal(out, np_pack32(x))
    back = np.zeros_like(x)
    lib.bgnn_unpack32(ptr(out), 5, channels, ptr(back))
    np.testing.assert_array_equal(back, np.where(x < 0, -1.0, 1.0))


def bconv_reference(x, w, stride, dil, same, pad_value, mul, bias, clamp=(-(2**31), 2**31 - 1)):
    """Float +-1 convolution in NumPy, with LCE's padding semantics and output transform."""
    n, h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    eff_h, eff_w = (kh - 1) * dil + 1, (kw - 1) * dil + 1
    if same:
        oh, ow = -(-h // stride), -(-wd // stride)
        pt = max((oh - 1) * stride + eff_h - h, 0) // 2
        pl = max((ow - 1) * stride + eff_w - wd, 0) // 2
    else:
        oh, ow, pt, pl = (h - eff_h) // stride + 1, (wd - eff_w) // stride + 1, 0, 0
    pad = 1.0 if pad_value == 1 else 0.0
    padded = np.full((n, h + 2 * eff_h, wd + 2 * eff_w, cin), pad, dtype=np.float64)
    padded[:, eff_h : eff_h + h, eff_w : eff_w + wd] = x
    dot = np.zeros((n, oh, ow, cout))
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = (
                        oy * stride - pt + ky * dil + eff_h,
                        ox * stride - pl + kx * dil + eff_w,
                    )
                    dot[:, oy, ox] += padded[:, iy, ix] @ w[:, ky, kx].T.astype(np.float64)
    k = kh * kw * cin
    lo, hi = max(clamp[0], -k), min(clamp[1], k)
    return np.clip(dot, lo, hi) * mul + bias, dot


@pytest.mark.parametrize(
    "cin,k,stride,dil,same,pad_value",
    [
        (70, 1, 1, 1, False, 0),
        (40, 3, 1, 1, True, 0),
        (33, 3, 2, 1, True, 1),
        (64, 3, 1, 2, False, 0),
        (34, 2, 2, 1, True, 0),
    ],
)
def test_bconv2d_float_against_numpy(cin, k, stride, dil, same, pad_value):
    lib = library()
    x, w = pm1(2, 7, 6, cin), pm1(5, k, k, cin)
    mul = RNG.uniform(0.5, 1.5, 5).astype(np.float32)
    bias = RNG.normal(size=5).astype(np.float32)
    p = BconvParams(
        batch=2,
        in_h=7,
        in_w=6,
        channels_in=cin,
        channels_out=5,
        kernel_h=k,
        kernel_w=k,
        stride_h=stride,
        stride_w=stride,
        dilation_h=dil,
        dilation_w=dil,
        pad_value=pad_value,
        clamp_lo=-(2**31),
        clamp_hi=2**31 - 1,
    )
    lib.bgnn_conv_output_size(ctypes_ref(p), int(same))
    want, _ = bconv_reference(x, w, stride, dil, same, pad_value, mul, bias)
    assert (p.out_h, p.out_w) == want.shape[1:3]
    xp = np_pack32(x.reshape(-1, cin)).reshape(2, 7, 6, -1)
    wp = np_pack32(w.reshape(-1, cin)).reshape(5, k, k, -1)
    out = np.zeros(want.shape, dtype=np.float32)
    lib.bgnn_bconv2d_float(ctypes_ref(p), ptr(xp), ptr(wp), ptr(mul), ptr(bias), ptr(out), None)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


def pointwise_params(lib, positions: int, cin: int, cout: int) -> BconvParams:
    """A 1x1 convolution over `positions` rows, no activation clamp: the GEMM path."""
    p = BconvParams(
        batch=1, in_h=positions, in_w=1, channels_in=cin, channels_out=cout,
        kernel_h=1, kernel_w=1, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
        clamp_lo=-(2**31), clamp_hi=2**31 - 1,
    )  # fmt: skip
    lib.bgnn_conv_output_size(ctypes_ref(p), 0)
    return p


@pytest.mark.parametrize(
    "cin,cout,positions",
    [(6, 64, 30), (32, 8, 1), (64, 13, 7), (128, 64, 41), (256, 256, 9), (4100, 9, 5)],
)
def test_pointwise_bgemm_blocks_and_tails(cin, cout, positions):
    # the blocked GEMM path: rows in blocks of 4, filters in blocks of 8, odd word counts
    lib = library()
    x, w = pm1(1, positions, 1, cin), pm1(cout, 1, 1, cin)
    mul = RNG.uniform(0.5, 1.5, cout).astype(np.float32)
    bias = RNG.normal(size=cout).astype(np.float32)
    p = pointwise_params(lib, positions, cin, cout)
    xp = np_pack32(x.reshape(-1, cin)).reshape(1, positions, 1, -1)
    wp = np_pack32(w.reshape(-1, cin)).reshape(cout, 1, 1, -1)
    out = np.zeros((1, positions, 1, cout), np.float32)
    assert lib.bgnn_bconv2d_float(
        ctypes_ref(p), ptr(xp), ptr(wp), ptr(mul), ptr(bias), ptr(out), None
    )
    want = x.reshape(-1, cin).astype(np.float64) @ w.reshape(cout, cin).T.astype(np.float64)
    np.testing.assert_allclose(out.reshape(-1, cout), want * mul + bias, rtol=1e-5, atol=1e-3)


def test_repacked_filters_are_kept_and_follow_a_new_filter_tensor():
    lib = library()
    cin, cout, positions = 96, 20, 6
    x = pm1(1, positions, 1, cin)
    xp = np_pack32(x.reshape(-1, cin)).reshape(1, positions, 1, -1)
    ones, zeros = np.ones(cout, np.float32), np.zeros(cout, np.float32)
    p = pointwise_params(lib, positions, cin, cout)
    cache = BgemmFilters()
    for _ in range(2):  # two filter tensors, one after the other, each run twice
        w = pm1(cout, 1, 1, cin)
        wp = np_pack32(w.reshape(-1, cin)).reshape(cout, 1, 1, -1)
        for _ in range(2):
            out = np.zeros((1, positions, 1, cout), np.float32)
            args = (ptr(xp), ptr(wp), ptr(ones), ptr(zeros), ptr(out), ctypes_ref(cache))
            assert lib.bgnn_bconv2d_float(ctypes_ref(p), *args)
            assert cache.packed and cache.source == wp.ctypes.data
            want = x.reshape(-1, cin) @ w.reshape(cout, cin).T
            np.testing.assert_array_equal(out.reshape(-1, cout), want)
    lib.bgnn_bgemm_free(ctypes_ref(cache))
    assert not cache.packed


def test_bconv2d_relu_clamp_and_bitpacked_output():
    lib = library()
    cin, cout = 45, 37  # output words: 2, the second with 5 used bits
    x, w = pm1(1, 4, 4, cin), pm1(cout, 1, 1, cin)
    thresholds = RNG.integers(10, 35, cout).astype(np.int32)
    p = BconvParams(
        batch=1,
        in_h=4,
        in_w=4,
        channels_in=cin,
        channels_out=cout,
        kernel_h=1,
        kernel_w=1,
        stride_h=1,
        stride_w=1,
        dilation_h=1,
        dilation_w=1,
        clamp_lo=0,
        clamp_hi=2**31 - 1,
    )
    lib.bgnn_conv_output_size(ctypes_ref(p), 0)
    xp = np_pack32(x.reshape(-1, cin)).reshape(1, 4, 4, -1)
    wp = np_pack32(w.reshape(-1, cin)).reshape(cout, 1, 1, -1)
    ones, zeros = np.ones(cout, np.float32), np.zeros(cout, np.float32)
    relu = np.zeros((1, 4, 4, cout), np.float32)
    lib.bgnn_bconv2d_float(ctypes_ref(p), ptr(xp), ptr(wp), ptr(ones), ptr(zeros), ptr(relu), None)
    want, dot = bconv_reference(x, w, 1, 1, False, 0, 1.0, 0.0, clamp=(0, 2**31 - 1))
    np.testing.assert_array_equal(relu, want.astype(np.float32))
    packed = np.zeros((1, 4, 4, 2), np.uint32)
    lib.bgnn_bconv2d_bitpacked(ctypes_ref(p), ptr(xp), ptr(wp), ptr(thresholds), ptr(packed), None)
    acc = (cin - dot) / 2  # mismatches
    bits = np.where(acc > thresholds, -1.0, 1.0).reshape(-1, cout)
    np.testing.assert_array_equal(packed.reshape(-1, 2), np_pack32(bits))


def test_bmaxpool_against_numpy():
    lib = library()
    x = pm1(1, 5, 5, 40)
    xp = np_pack32(x.reshape(-1, 40)).reshape(1, 5, 5, 2)
    p = BmaxpoolParams(
        batch=1,
        in_h=5,
        in_w=5,
        words=2,
        out_h=3,
        out_w=3,
        filter_h=3,
        filter_w=3,
        stride_h=2,
        stride_w=2,
        pad_top=1,
        pad_left=1,
    )
    out = np.zeros((1, 3, 3, 2), np.uint32)
    lib.bgnn_bmaxpool(ctypes_ref(p), ptr(xp), ptr(out))
    want = np.zeros((1, 3, 3, 40), np.float32)
    for oy in range(3):
        for ox in range(3):
            ys = slice(max(oy * 2 - 1, 0), min(oy * 2 + 2, 5))
            xs = slice(max(ox * 2 - 1, 0), min(ox * 2 + 2, 5))
            want[0, oy, ox] = x[0, ys, xs].max(axis=(0, 1))
    np.testing.assert_array_equal(out.reshape(-1, 2), np_pack32(want.reshape(-1, 40)))


@pytest.mark.parametrize(
    "n,channels,k",
    [
        (50, 8, 7),
        (64, 33, 20),
        (40, 70, 40),
        (1, 5, 1),
        (203, 256, 20),
        (1000, 8, 20),  # distances 0..8: ties everywhere, through the bound path
        (700, 130, 33),
        (2000, 130, 20),  # the block-minimum bound path with three words per row
    ],
)
def test_hamming_knn_against_numpy_with_ties(n, channels, k):
    lib = library()
    x = pm1(n, channels)
    packed = np_pack32(x)
    out = np.zeros((n, k), np.int32)
    lib.bgnn_hamming_knn_scratch.restype = ctypes.c_size_t
    scratch = np.zeros(lib.bgnn_hamming_knn_scratch(n, packed.shape[1]), np.int32)
    assert lib.bgnn_hamming_knn(ptr(packed), n, packed.shape[1], k, ptr(out), ptr(scratch))
    dist = (x[:, None, :] != x[None, :, :]).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(n), dist.shape), dist), axis=-1)[:, :k]
    np.testing.assert_array_equal(out, order)


def test_every_variant_equals_scalar_natively():
    result = compile_and_run_kernel_tests("native")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISMATCH" not in result.stdout and "xor_popcount scalar   ok" in result.stdout
    assert "bitpack32             ok" in result.stdout


def test_neon_variant_equals_scalar_under_qemu():
    result = compile_and_run_kernel_tests("aarch64")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "xor_popcount neon     ok" in result.stdout and "hamming_knn  neon     ok" in result.stdout
    )
    assert "bitpack32             ok" in result.stdout  # the NEON packing


def ctypes_ref(structure):
    import ctypes

    return ctypes.byref(structure)
