"""The fused kernels (core/edgeconv.c, embed_pool.c, l2_knn.c) through ctypes against the
NumPy reference of their specs, on odd sizes, with every rule mode and several threads;
the binary EdgeConv also with each ISA variant of its edge extremes kernel
(core/edge_extremes.h), natively and under qemu-aarch64."""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest
from bgnn_deploy.converters.fusion.plan import FusedEdgeConv, FusedEmbed, pack_signs
from bgnn_deploy.converters.fusion.reference import edge_conv, embed_pool, l2_knn
from bgnn_deploy.converters.fusion.rules import ChannelRules

from tests.targets.kernels import (
    HOST_ISAS,
    ISAS,
    cpu_has,
    edgeconv_through_kernel_tests,
    embed_through_kernel_tests,
    library,
    ptr,
)


def _unpack(words: np.ndarray, channels: int) -> np.ndarray:
    bits = (words.view(np.uint32)[..., None] >> np.arange(32, dtype=np.uint32)) & 1
    bits = bits.reshape(*words.shape[:-1], -1)[..., :channels]
    return np.where(bits, -1.0, 1.0).astype(np.float32)


def _signs(rng, *shape) -> np.ndarray:
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def _random_rules(rng, channels: int, binary: bool, channels_in: int) -> ChannelRules:
    mode = rng.integers(0, 4, channels).astype(np.int32)
    if binary:
        span = 2 * channels_in
        bounds = np.sort(2 * rng.integers(-channels_in, channels_in + 1, (channels, 2)), axis=1)
        bounds[rng.random(channels) < 0.1] = (-span - 1, span + 1)  # never / always
        return ChannelRules(mode, bounds.astype(np.int32))
    bounds = np.sort(rng.normal(0, 2, (channels, 2)), axis=1).astype(np.float32)
    bounds[rng.random(channels) < 0.1] = (-np.inf, np.inf)
    return ChannelRules(mode, bounds)


def _run_edgeconv(layer: FusedEdgeConv, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    lib = library()
    lib.bgnn_edgeconv_bytes.restype = ctypes.c_size_t
    state = ctypes.create_string_buffer(lib.bgnn_edgeconv_bytes())
    n, k = idx.shape
    weights = np.ascontiguousarray(layer.weights)
    mode = np.ascontiguousarray(layer.rules.mode)
    bounds = np.ascontiguousarray(layer.rules.bounds)
    ok = lib.bgnn_edgeconv_init(
        state, n, k, layer.channels_in, layer.channels_out, int(layer.binary_input),
        ptr(weights), ptr(mode), ptr(bounds), lib.bgnn_parallel_threads(),
    )  # fmt: skip
    assert ok
    out = np.zeros((n, -(-layer.channels_out // 32)), np.int32)
    try:
        lib.bgnn_edgeconv_run(state, ptr(np.ascontiguousarray(x)), ptr(idx), ptr(out))
    finally:
        lib.bgnn_edgeconv_free(state)
    return _unpack(out, layer.channels_out)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize(
    ("channels_in", "channels_out"), [(1, 1), (31, 33), (33, 70), (64, 64), (70, 129)]
)
def test_binary_edgeconv_equals_reference(pool_threads, threads, channels_in, channels_out):
    pool_threads(threads)
    rng = np.random.default_rng(channels_in * 1000 + channels_out)
    n, k = 41, 7
    signs = np.where(rng.random((n, channels_in)) < 0.5, -1.0, 1.0).astype(np.float32)
    weights = np.where(rng.random((channels_out, 2 * channels_in)) < 0.5, -1.0, 1.0).astype(
        np.float32
    )
    packed = np.stack(
        [pack_signs(weights[:, :channels_in]), pack_signs(weights[:, channels_in:])], 1
    )
    rules = _random_rules(rng, channels_out, True, channels_in)
    layer = FusedEdgeConv(k, "hamming", channels_in, channels_out, packed, rules, weights)
    idx = rng.integers(0, n, (n, k)).astype(np.int32)
    got = _run_edgeconv(layer, pack_signs(signs), idx)
    np.testing.assert_array_equal(got, edge_conv(layer, signs, idx))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("channels_out", [1, 33, 64])
def test_float_edgeconv_equals_reference(pool_threads, threads, channels_out):
    pool_threads(threads)
    rng = np.random.default_rng(channels_out)
    n, k, c = 53, 6, 3
    x = rng.normal(0, 1, (n, c)).astype(np.float32)
    weights = _signs(rng, channels_out, 2 * c)
    rules = _random_rules(rng, channels_out, False, c)
    layer = FusedEdgeConv(k, "l2", c, channels_out, weights, rules, weights)
    idx = l2_knn(x, k)
    got = _run_edgeconv(layer, x, idx)
    np.testing.assert_array_equal(got, edge_conv(layer, x, idx))
    assert {0, 1, 2, 3} <= set(rules.mode.tolist()) or channels_out < 8


@pytest.mark.parametrize("threads", [1, 2])
def test_l2_knn_equals_reference_with_duplicate_points(pool_threads, threads):
    pool_threads(threads)
    lib = library()
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, (301, 3)).astype(np.float32)
    x[100:110] = x[5]  # exact ties: the lower index first
    k = 13
    lib.bgnn_l2_knn_scratch.restype = ctypes.c_size_t
    scratch = np.zeros(lib.bgnn_l2_knn_scratch(301, 3, k, lib.bgnn_parallel_threads()), np.float32)
    out = np.zeros((301, k), np.int32)
    lib.bgnn_l2_knn(ptr(x), 301, 3, k, ptr(out), ptr(scratch))
    np.testing.assert_array_equal(out, l2_knn(x, k))


def _embed_params(rng, e: int) -> np.ndarray:
    """s, alpha, g, h of every sign; channels 3k get s, alpha < 0, g = 0 and h = -0, so that
    v is -0 at a = 0 and +0 elsewhere (the max is +0 when both occur); some s or alpha 0."""
    params = rng.normal(0, 1, (e, 4)).astype(np.float32)
    params[::3, :2] = -np.abs(params[::3, :2]) - 0.1
    params[::3, 2:] = (0.0, -0.0)
    params[1::5, 0] = 0.0
    params[2::7, 1] = 0.0
    return params


def _run_embed_pool(lib, embed: FusedEmbed, feats: list[np.ndarray]) -> np.ndarray:
    lib.bgnn_embed_pool_bytes.restype = ctypes.c_size_t
    state = ctypes.create_string_buffer(lib.bgnn_embed_pool_bytes())
    widths = embed.channels_in
    channels = (ctypes.c_int * len(widths))(*widths)
    filters = np.ascontiguousarray(embed.filters)
    params = np.ascontiguousarray(embed.params)
    n, e = feats[0].shape[0], embed.channels_out
    assert lib.bgnn_embed_pool_init(
        state, n, len(widths), channels, e, ptr(filters), ptr(params), lib.bgnn_parallel_threads()
    )
    packed = [np.ascontiguousarray(pack_signs(f)) for f in feats]
    maps = (ctypes.c_void_p * len(widths))(*[p.ctypes.data for p in packed])
    out = np.zeros(2 * e, np.float32)
    try:
        lib.bgnn_embed_pool_run(state, maps, ptr(out))
    finally:
        lib.bgnn_embed_pool_free(state)
    return out


# Odd shapes for the binary EdgeConv: (points, k, channels_in, channels_out), with rows of
# 1-4 32-bit words (NEON's direct kernel, one- and two-word tiles, lone last tiles) and
# longer (the bgemm path), filters not multiples of the tile widths.
BINARY_SHAPES = [
    (333, 7, 24, 40),
    (333, 7, 40, 70),
    (333, 7, 70, 33),
    (200, 20, 100, 129),
    (150, 20, 64, 128),
    (97, 3, 1, 1),
    (64, 1, 129, 65),
    (333, 7, 33, 17),
    (120, 5, 128, 48),
    (90, 9, 300, 70),
]


def _binary_case(seed: int, n: int, k: int, cin: int, cout: int, modes) -> tuple:
    """A binary layer whose rules are drawn from ``modes``, with bounds (odd and even, a few
    never / always, a few at the int32 limits) near the node's y, random ±1 rows and
    neighbours."""
    rng = np.random.default_rng(seed)
    signs = _signs(rng, n, cin)
    weights = _signs(rng, cout, 2 * cin)
    packed = np.stack([pack_signs(weights[:, :cin]), pack_signs(weights[:, cin:])], 1)
    spread = int(3 * np.sqrt(cin)) + 2
    bounds = np.sort(rng.integers(-spread, spread + 1, (cout, 2)), axis=1)
    bounds[rng.random(cout) < 0.1] = (-2 * cin - 1, 2 * cin + 1)
    bounds[rng.random(cout) < 0.05] = (-(2**31), 2**31 - 1)
    mode = rng.choice(np.array(modes, np.int32), cout)
    rules = ChannelRules(mode, bounds.astype(np.int32))
    layer = FusedEdgeConv(k, "hamming", cin, cout, packed, rules, weights)
    return layer, signs, rng.integers(0, n, (n, k)).astype(np.int32)


@pytest.fixture(params=HOST_ISAS)
def variant(request):
    """The core library with each host variant active (skipped where the CPU lacks it):
    bgnn_edgeconv_init packs with it, so its edge extremes kernel runs."""
    lib = library()
    if not lib.bgnn_dispatch_set(ISAS[request.param]):
        assert not cpu_has(request.param)
        pytest.skip(f"{request.param}: this CPU lacks it")
    yield request.param
    assert lib.bgnn_dispatch_set(lib.bgnn_dispatch_init())


@pytest.mark.parametrize("modes", [(0, 1), (0, 1, 2, 3)], ids=["extremes", "per-edge"])
@pytest.mark.parametrize("shape", BINARY_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_binary_edgeconv_every_variant_equals_reference(variant, shape, modes):
    layer, signs, idx = _binary_case(sum(shape), *shape, modes)
    got = _run_edgeconv(layer, pack_signs(signs), idx)
    np.testing.assert_array_equal(got, edge_conv(layer, signs, idx), err_msg=variant)


@pytest.mark.parametrize("isa", ["neon", "scalar"])
def test_aarch64_binary_edgeconv_equals_reference_under_qemu(isa, tmp_path):
    cases, want = [], []
    for modes in ((0, 1), (0, 1, 2, 3)):
        for shape in BINARY_SHAPES:
            layer, signs, idx = _binary_case(sum(shape) + len(modes), *shape, modes)
            x = pack_signs(signs)
            cases.append(
                {
                    "x": x,
                    "idx": idx,
                    "weights": layer.weights,
                    "modes": layer.rules.mode,
                    "bounds": layer.rules.bounds,
                    "channels_in": layer.channels_in,
                }
            )
            want.append(pack_signs(edge_conv(layer, signs, idx)))
    got = edgeconv_through_kernel_tests("aarch64", isa, cases, tmp_path)
    for case, g, w in zip(cases, got, want, strict=True):
        np.testing.assert_array_equal(
            g, w.view(np.uint32), err_msg=f"{isa} {case['idx'].shape} {case['channels_in']}"
        )


def embed_case(n: int, widths: tuple[int, ...], e: int, seed: int):
    rng = np.random.default_rng(seed)
    feats = [_signs(rng, n, w) for w in widths]
    signs = _signs(rng, e, sum(widths))
    return FusedEmbed(widths, e, pack_signs(signs), _embed_params(rng, e), signs), feats


# (points, input widths, channels_out): C even and odd, of one 64-bit word (the NEON
# fallback) and longer, not multiples of 32, the paper's widths, points not a multiple of 4
EMBED_SHAPES = [
    (77, (24, 40, 70), 45),
    (333, (31, 33, 5), 70),
    (333, (64, 64, 128, 256), 64),
    (50, (20, 13), 9),
    (41, (1,), 3),
    (130, (100, 101), 24),
    (50, (4000, 4191), 5),  # C = 8191, the largest: 16-bit sums moved out after every block
]


def assert_embed_equal(out: np.ndarray, want: np.ndarray, e: int, what: str) -> None:
    """The max bit for bit (the sign of a zero too), the mean within float rounding."""
    np.testing.assert_array_equal(out[:e].view(np.uint32), want[:e].view(np.uint32), err_msg=what)
    np.testing.assert_allclose(out[e:], want[e:], rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("isa", ["scalar", "neon", "avx2", "avx512"])
@pytest.mark.parametrize("threads", [1, 3])
def test_embed_pool_equals_reference(pool_threads, threads, isa):
    pool_threads(threads)
    lib = library()
    if not lib.bgnn_dispatch_set(ISAS[isa]):
        pytest.skip(f"{isa}: not in this build or this CPU lacks it")
    try:
        for i, (n, widths, e) in enumerate(EMBED_SHAPES):
            embed, feats = embed_case(n, widths, e, seed=4 + i)
            want = embed_pool(embed, feats)
            assert_embed_equal(_run_embed_pool(lib, embed, feats), want, e, f"{isa} {n} {widths}")
            assert (want[:e][::3] == 0).any() and not np.signbit(want[:e][::3]).all()
    finally:
        assert lib.bgnn_dispatch_set(lib.bgnn_dispatch_init())


def test_embed_pool_where_a_step_overflows_equals_reference():
    # s * a overflows to inf for large |a| in one channel: the op takes the path that
    # evaluates v at every point (the extremes of a no longer decide the max)
    lib = library()
    embed, feats = embed_case(61, (40, 30), 12, seed=1)
    embed.params[5] = (3e37, 0.5, 1.0, 0.25)
    embed.params[6] = (-3e37, -2.0, -1.0, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        want = embed_pool(embed, feats)
    out = _run_embed_pool(lib, embed, feats)
    np.testing.assert_array_equal(out[:12], want[:12])
    finite = np.isfinite(want[12:])
    np.testing.assert_allclose(out[12:][finite], want[12:][finite], rtol=1e-5, atol=1e-5)


def test_embed_pool_under_qemu_equals_reference_for_neon_and_scalar(tmp_path):
    # each shape through the statistics (init's choice) and through the direct path
    # (forced), plus two for which init picks the direct path itself: C above 8191, and
    # parameters for which a step overflows
    cases, wants = [], []
    for i, (n, widths, e) in enumerate(EMBED_SHAPES):
        embed, feats = embed_case(n, widths, e, seed=40 + i)
        packed = [pack_signs(f) for f in feats]
        for direct in (-1, 1):
            cases.append((widths, packed, embed.filters, embed.params, direct))
            wants.append(embed_pool(embed, feats))
    embed, feats = embed_case(61, (40, 30), 12, seed=1)
    embed.params[5] = (3e37, 0.5, 1.0, 0.25)
    direct_by_init = [embed_case(9, (4000, 4192), 3, seed=2), (embed, feats)]  # C > 8191
    for embed, feats in direct_by_init:
        packed = [pack_signs(f) for f in feats]
        cases.append((embed.channels_in, packed, embed.filters, embed.params, -1))
        with np.errstate(over="ignore", invalid="ignore"):
            wants.append(embed_pool(embed, feats))
    got = {
        isa: embed_through_kernel_tests("aarch64", isa, cases, tmp_path)
        for isa in ("neon", "scalar")
    }
    for isa, results in got.items():
        for j, ((y, ran), want, case) in enumerate(zip(results, wants, cases, strict=True)):
            e = case[3].shape[0]
            what = f"{isa} {case[1][0].shape[0]} points {case[0]} direct={case[4]}"
            assert ran == (case[4] == 1 or j >= len(cases) - len(direct_by_init)), what
            finite = np.isfinite(want)
            assert_embed_equal(np.where(finite, y, 0), np.where(finite, want, 0), e, what)
    for (neon, _), (scalar, _) in zip(got["neon"], got["scalar"], strict=True):
        np.testing.assert_array_equal(neon.view(np.uint32), scalar.view(np.uint32))


# ---- the float EdgeConv's layouts and plans, and the grid L2 k-NN, on every build ---------
#
# core/edgeconv_float.c keeps u by distinct W_e row (at most 8: the first layer's ±1 rows
# over 3 coordinates) or by channel, and runs a fast plan (max/min) when every |x| is
# within a bound, an exact per-edge plan otherwise; core/l2_knn.c searches a grid of cells
# for 3 channels and every pair otherwise. The cases below reach each of these, with the
# edges that matter (channel counts around 8 and 32, every mode, uniform-mode vectors,
# y exactly on a bound, infinite bounds, NaN/inf/huge inputs, duplicate points, exact
# distance ties, flat and clustered clouds), natively through ctypes and through the
# kernel tests natively, in a baseline x86-64 build (the plain C paths) and under
# qemu-aarch64 (NEON).


def _float_layer(rng, channels_in, channels_out, *, real=False, modes=None, lo_inf=False):
    weights = (
        rng.normal(0, 1, (channels_out, 2 * channels_in)).astype(np.float32)
        if real
        else _signs(rng, channels_out, 2 * channels_in)
    )
    rules = _random_rules(rng, channels_out, False, channels_in)
    if modes is not None:
        rules = ChannelRules(np.full(channels_out, modes, np.int32), rules.bounds)
    if lo_inf:  # the paper model's first layer: every rule "y >= hi"
        rules.bounds[:, 0] = -np.inf
    return FusedEdgeConv(7, "l2", channels_in, channels_out, weights, rules, weights)


def _reference(layer, x, idx):
    with np.errstate(all="ignore"):
        return edge_conv(layer, x, idx)


def _float_edgeconv_cases():
    """(name, layer, x, idx) for the float EdgeConv."""
    rng = np.random.default_rng(11)
    n, k = 333, 7
    cases = []

    def points(channels):
        return rng.normal(0, 1, (n, channels)).astype(np.float32)

    for cout in (1, 7, 8, 24, 33, 70, 129):  # by pattern (cin 3, ±1), random modes
        x = points(3)
        cases.append((f"pattern cout={cout}", _float_layer(rng, 3, cout), x, l2_knn(x, k)))
    for mode in (0, 1, 2, 3):  # one mode everywhere (whole vectors of one mode)
        x = points(3)
        cases.append(
            (f"pattern mode={mode}", _float_layer(rng, 3, 40, modes=mode), x, l2_knn(x, k))
        )
    x = points(3)
    cases.append(
        ("pattern lo=-inf", _float_layer(rng, 3, 64, modes=0, lo_inf=True), x, l2_knn(x, k))
    )
    by_channel = ((5, 33, False), (5, 70, False), (3, 24, True), (2, 9, True))
    for cin, cout, real in by_channel:  # more than 8 distinct rows, or real weights
        x = points(cin)
        layer = _float_layer(rng, cin, cout, real=real)
        cases.append((f"channel cin={cin} cout={cout}", layer, x, l2_knn(x, k)))
    # y exactly on the bounds: bounds taken from the y values themselves
    x = points(3)
    idx = l2_knn(x, k)
    layer = _float_layer(rng, 3, 33)
    c = layer.channels_in
    w = layer.weights
    u = np.zeros((n, 33), np.float32)
    v = np.zeros((n, 33), np.float32)
    for t in range(c):
        u = (u + x[:, t : t + 1] * w[None, :, t]).astype(np.float32)
        v = (v + x[:, t : t + 1] * (w[:, c + t] - w[:, t])[None]).astype(np.float32)
    y = (u[idx] + v[:, None, :]).astype(np.float32)
    picks = y[rng.integers(0, n, 33), rng.integers(0, k, 33), np.arange(33)]
    bounds = np.stack([picks, picks + np.abs(rng.normal(0, 1, 33)).astype(np.float32)], 1)
    rules = ChannelRules(layer.rules.mode, bounds.astype(np.float32))
    on = FusedEdgeConv(k, "l2", c, 33, w, rules, w)
    cases.append(("y on the bounds", on, x, idx))
    # the exact plan: NaN, infinities, values whose sums overflow; duplicate points
    for name, value in (("nan", np.nan), ("inf", np.inf), ("huge", 3e38)):
        x = points(3)
        idx = l2_knn(x, k)
        x[5, 1] = value
        x[17, 0] = -value
        cases.append((f"exact {name}", _float_layer(rng, 3, 40), x, idx))
    x = points(3)
    x[50:60] = x[3]
    cases.append(("duplicates", _float_layer(rng, 3, 33), x, l2_knn(x, k)))
    return cases


def _l2_cases():
    """(name, points, k) for the L2 k-NN: the grid's shapes and ties, and all-pairs ones."""
    rng = np.random.default_rng(12)
    sizes = ((63, 7), (64, 1), (65, 20), (333, 7), (333, 40), (1024, 20), (2000, 20))
    cases = [(f"uniform n={n} k={k}", rng.uniform(-1, 1, (n, 3)), k) for n, k in sizes]
    sphere = rng.normal(0, 1, (1500, 3))
    cases.append(("sphere", sphere / np.linalg.norm(sphere, axis=1, keepdims=True), 20))
    plane = rng.uniform(-1, 1, (800, 3))
    plane[:, 2] = 0.5
    cases.append(("plane", plane, 20))
    line = np.zeros((400, 3))
    line[:, 0] = rng.uniform(0, 1, 400)
    cases.append(("line", line, 10))
    cases.append(("one point", np.full((200, 3), 0.25), 13))
    dup = rng.uniform(-1, 1, (700, 3))
    dup[100:400] = dup[5]
    cases.append(("duplicates", dup, 20))
    lattice = np.stack(np.meshgrid(*[np.arange(9)] * 3), -1).reshape(-1, 3) * 0.1
    cases.append(("lattice (exact ties)", lattice, 20))
    outliers = rng.uniform(-1, 1, (900, 3))
    outliers[:3] *= 1e6
    cases.append(("outliers", outliers, 20))
    cases.append(("large", rng.uniform(-1e7, 1e7, (500, 3)), 20))
    cases.append(("tiny", rng.uniform(-1e-20, 1e-20, (500, 3)), 20))
    cases.append(("far from 0, small extent", rng.uniform(1000, 1000.001, (500, 3)), 20))
    clusters = np.concatenate([rng.normal(0, 1e-4, (400, 3)), rng.normal(5, 1, (400, 3))])
    cases.append(("clusters", clusters, 20))
    cases.append(("5 channels", rng.uniform(-1, 1, (300, 5)), 9))
    cases.append(("huge (all pairs)", rng.uniform(-1, 1, (300, 3)) * np.float32(1e16), 9))
    return [(name, x.astype(np.float32), k) for name, x, k in cases]


@pytest.fixture(scope="module")
def fused_cases():
    return _float_edgeconv_cases(), _l2_cases()


def _l2_native(x, k):
    lib = library()
    lib.bgnn_l2_knn_scratch.restype = ctypes.c_size_t
    n, c = x.shape
    scratch = np.zeros(lib.bgnn_l2_knn_scratch(n, c, k, lib.bgnn_parallel_threads()), np.float32)
    out = np.zeros((n, k), np.int32)
    lib.bgnn_l2_knn(ptr(np.ascontiguousarray(x)), n, c, k, ptr(out), ptr(scratch))
    return out


@pytest.mark.parametrize("threads", [1, 2])
def test_float_edgeconv_layouts_and_plans_equal_reference(pool_threads, threads, fused_cases):
    pool_threads(threads)
    for name, layer, x, idx in fused_cases[0]:
        got = _run_edgeconv(layer, x, idx)
        np.testing.assert_array_equal(got, _reference(layer, x, idx), err_msg=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_l2_knn_grid_and_all_pairs_equal_reference(pool_threads, threads, fused_cases):
    pool_threads(threads)
    for name, x, k in fused_cases[1]:
        np.testing.assert_array_equal(_l2_native(x, k), l2_knn(x, k), err_msg=name)


def _through_kernel_tests(arch, cases, folder):
    """Every case through kernel_tests' `fused` mode (one process, under qemu for aarch64)."""
    from tests.targets.kernels import compile_and_run_kernel_tests, kernel_tests_binary

    edgeconv, knn = cases
    parts = [np.int32(len(edgeconv) + len(knn)).tobytes()]
    for _, layer, x, idx in edgeconv:
        n, k = idx.shape
        parts += [np.array([0, n, k, layer.channels_in, layer.channels_out], np.int32).tobytes()]
        for a, t in ((x, np.float32), (idx, np.int32), (layer.weights, np.float32),
                     (layer.rules.mode, np.int32), (layer.rules.bounds, np.float32)):  # fmt: skip
            parts.append(np.ascontiguousarray(a, t).tobytes())
    for _, x, k in knn:
        parts += [np.array([1, x.shape[0], x.shape[1], k], np.int32).tobytes(), x.tobytes()]
    src, dst = folder / f"fused-{arch}.bin", folder / f"fused-{arch}.out"
    src.write_bytes(b"".join(parts))
    if arch == "x86_64":  # a baseline build, run here without qemu
        done = subprocess.run(
            [str(kernel_tests_binary(arch)), "fused", "scalar", str(src), str(dst)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    else:
        done = compile_and_run_kernel_tests(arch, "fused", "scalar", str(src), str(dst))
    assert done.returncode == 0, done.stdout + done.stderr
    flat, at, got = np.fromfile(dst, np.int32), 0, []
    for _, layer, x, _ in edgeconv:
        size = len(x) * -(-layer.channels_out // 32)
        got.append(_unpack(flat[at : at + size].reshape(len(x), -1), layer.channels_out))
        at += size
    for _, x, k in knn:
        got.append(flat[at : at + len(x) * k].reshape(len(x), k))
        at += len(x) * k
    assert at == flat.size
    return got


@pytest.mark.parametrize("arch", ["native", "x86_64", "aarch64"])
def test_fused_float_kernels_on_every_build(arch, fused_cases, tmp_path):
    """native: AVX2 here; x86_64: a baseline build (no AVX: the plain C paths); aarch64:
    NEON under qemu."""
    got = iter(_through_kernel_tests(arch, fused_cases, tmp_path))
    for name, layer, x, idx in fused_cases[0]:
        np.testing.assert_array_equal(
            next(got), _reference(layer, x, idx), err_msg=f"{arch} {name}"
        )
    for name, x, k in fused_cases[1]:
        np.testing.assert_array_equal(next(got), l2_knn(x, k), err_msg=f"{arch} {name}")
