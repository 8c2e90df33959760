"""Per-channel output rules of a fused binary EdgeConv, derived from the model's own ops.

Between an EdgeConv's convolution and the next sign, a BF layer applies per-channel
scalar functions to one value per edge and channel, y (an exact integer for ±1 inputs,
a float for the real first layer): the edge function E (learned scale, PReLU,
BatchNorm in BF2), the max over the k neighbours, then the node function N (BatchNorm
in BF1). The output bit of node i, channel c is therefore

    sign(N(max_j E(y_ij)))  =  +1  iff  any_j P(y_ij)   (N non-decreasing)
                                   iff  all_j P(y_ij)   (N non-increasing)

with P(y) = [N(E(y)) >= 0], because a monotone function commutes with the max (also in
float32, where every rounding step is monotone). P is evaluated here with the same
float32 operations the reference performs, at every value y can take (all integers of
the ±1 dot product) or, for real inputs, located exactly by bisection over float32 on
each side of the activation's kink at y = 0; its true set is then one or two intervals,
stored as (mode, lo, hi) for the kernel (modes in ``targets/runner/core/edgeconv.h``).
No float is evaluated on the device's hot path and no case of sign is special: negative
scales, BatchNorm gammas and PReLU slopes only change which of the four modes results.

    >>> import numpy as np
    >>> from bgnn_deploy.converters import ir
    >>> rules = integer_rules([ir.Scale(np.array([1.0, -1.0], np.float32))], (), channels_in=2)
    >>> rules.mode.tolist(), rules.bounds.tolist()   # y >= 0 / y <= 0, any neighbour
    ([0, 0], [[-5, 0], [0, 5]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bgnn_deploy.converters import ir

from bgnn_deploy.errors import ConversionError

__all__ = [
    "ALL_INSIDE",
    "ALL_OUTSIDE",
    "ANY_INSIDE",
    "ANY_OUTSIDE",
    "ChannelRules",
    "apply_channel_ops",
    "batchnorm_terms",
    "float_rules",
    "integer_rules",
    "node_direction",
]

ANY_OUTSIDE, ALL_INSIDE, ANY_INSIDE, ALL_OUTSIDE = 0, 1, 2, 3
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=False)
class ChannelRules:
    """``mode`` int32 [C]; ``bounds`` [C, 2] (lo, hi): int32 for integer y, float32 else."""

    mode: np.ndarray
    bounds: np.ndarray

    def holds(self, y: np.ndarray) -> np.ndarray:
        """The rule applied edge by edge: y [..., k, C] -> bool [..., C] (the spec, for tests
        and the NumPy reference; the kernel decides the first two modes from max and min)."""
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        inside = (y >= lo) & (y <= hi)
        outside = (y <= lo) | (y >= hi)
        mode = self.mode
        return np.where(
            mode == ANY_OUTSIDE,
            outside.any(-2),
            np.where(
                mode == ALL_INSIDE,
                inside.all(-2),
                np.where(mode == ANY_INSIDE, inside.any(-2), outside.all(-2)),
            ),
        )


def apply_channel_ops(ops, y: np.ndarray) -> np.ndarray:
    """Per-channel elementwise ops on ``y`` [C, ...] in float32, as the reference does them."""
    y = y.astype(np.float32)
    c = y.shape[0]

    def per_channel(v) -> np.ndarray:
        v = np.asarray(v, np.float32).reshape(-1)
        v = np.broadcast_to(v, (c,)) if v.size == 1 else v
        return v.reshape((c,) + (1,) * (y.ndim - 1))

    with np.errstate(over="ignore", invalid="ignore"):  # the bisection probes +-FLT_MAX
        return _apply(ops, y, per_channel)


def _apply(ops, y: np.ndarray, per_channel) -> np.ndarray:
    for op in ops:
        if isinstance(op, ir.Scale):
            y = y * per_channel(op.channel)
        elif isinstance(op, ir.PReLU):
            y = np.where(y > 0, y, per_channel(op.alpha) * y)
        elif isinstance(op, ir.LeakyReLU):
            y = np.where(y > 0, y, np.float32(op.alpha) * y)
        elif isinstance(op, ir.BatchNorm):
            # as one fused multiply-add, as PyTorch's CPU kernel does (in float64 the
            # float32 product is exact, so the sum is rounded once)
            mul, add = batchnorm_terms(op)
            y = y.astype(np.float64) * per_channel(mul) + per_channel(add)
        else:
            raise ConversionError(f"{type(op).__name__} is not a per-channel function")
        y = y.astype(np.float32)
    return y


def batchnorm_terms(op: ir.BatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """Inference BatchNorm as y = x * mul + add, rounded as PyTorch's CPU kernel does:
    invstd = 1 / sqrt(var + eps), mul = invstd * gamma, add = beta - mean * mul (float32)."""
    f32 = np.float32
    invstd = (f32(1) / np.sqrt((op.var.astype(f32) + f32(op.eps)).astype(f32))).astype(f32)
    mul = (invstd * op.gamma.astype(f32)).astype(f32)
    add = (op.beta.astype(f32) - (op.mean.astype(f32) * mul).astype(f32)).astype(f32)
    return mul, add


def node_direction(node_ops, channels: int) -> np.ndarray:
    """+1 where the node function (BatchNorm / Scale before the sign) is non-decreasing,
    -1 where it is non-increasing, per channel."""
    slope = np.ones(channels, np.float64)
    for op in node_ops:
        if isinstance(op, ir.BatchNorm):
            slope *= np.sign(op.gamma.astype(np.float64))
        elif isinstance(op, ir.Scale):
            slope *= np.sign(np.broadcast_to(op.channel.astype(np.float64), (channels,)))
        else:
            raise ConversionError(f"{type(op).__name__} between the max and the sign")
    return np.where(slope < 0, -1, 1)


def _classify(
    true_runs: list[list[tuple]], any_mode: np.ndarray, lowest, highest, never_lo, never_hi, where
):
    """(mode, lo, hi) per channel from its true set, given as closed intervals in order;
    ``lowest``/``highest`` are the ends of y's range, ``never_*`` bounds no y reaches."""
    modes, bounds = [], []
    for c, runs in enumerate(true_runs):
        any_c = bool(any_mode[c])
        if not runs:
            modes.append(ANY_OUTSIDE if any_c else ALL_INSIDE)
            bounds.append((never_lo, never_hi) if any_c else (never_hi, never_lo))
            continue
        if len(runs) == 1:
            a, b = runs[0]
            prefix, suffix = a == lowest, b == highest
            if prefix and suffix:
                modes.append(ANY_OUTSIDE if any_c else ALL_INSIDE)
                bounds.append((highest, never_hi) if any_c else (lowest, highest))
            elif prefix:
                modes.append(ANY_OUTSIDE if any_c else ALL_INSIDE)
                bounds.append((b, never_hi) if any_c else (never_lo, b))
            elif suffix:
                modes.append(ANY_OUTSIDE if any_c else ALL_INSIDE)
                bounds.append((never_lo, a) if any_c else (a, never_hi))
            else:
                modes.append(ANY_INSIDE if any_c else ALL_INSIDE)
                bounds.append((a, b))
            continue
        if len(runs) == 2 and runs[0][0] == lowest and runs[1][1] == highest:
            modes.append(ANY_OUTSIDE if any_c else ALL_OUTSIDE)
            bounds.append((runs[0][1], runs[1][0]))
            continue
        raise ConversionError(
            f"{where}: channel {c}'s output is +1 on {len(runs)} separate ranges of its "
            "convolution output, which the fused op cannot express",
            hint="convert without --fuse",
        )
    return np.asarray(modes, np.int32), bounds


def _runs(values: np.ndarray, truth: np.ndarray) -> list[tuple]:
    """Closed intervals of consecutive True entries of ``truth`` over sorted ``values``."""
    runs, start, prev = [], None, None
    for v, t in zip(values.tolist(), truth.tolist(), strict=True):
        if t and start is None:
            start = v
        if not t and start is not None:
            runs.append((start, prev))
            start = None
        prev = v
    if start is not None:
        runs.append((start, prev))
    return runs


def integer_rules(edge_ops, node_ops, *, channels_in: int, where: str = "layer") -> ChannelRules:
    """Rules over y = the ±1 dot product of 2 * ``channels_in`` inputs (y in -2C..2C, even)."""
    k = 2 * channels_in
    values = np.arange(-k, k + 1, 2, dtype=np.int64)
    channels = _channels(edge_ops, node_ops)
    grid = np.broadcast_to(values.astype(np.float32), (channels, values.size))
    truth = apply_channel_ops(node_ops, apply_channel_ops(edge_ops, grid)) >= 0
    any_mode = node_direction(node_ops, channels) > 0
    modes, bounds = _classify(
        [_runs(values, truth[c]) for c in range(channels)],
        any_mode,
        -k,
        k,
        -k - 1,
        k + 1,
        where,
    )
    return ChannelRules(modes, np.asarray(bounds, np.int32).reshape(channels, 2))


def _channels(edge_ops, node_ops) -> int:
    for op in (*edge_ops, *node_ops):
        if isinstance(op, ir.Scale):
            return int(op.channel.size)
        if isinstance(op, ir.BatchNorm):
            return int(op.gamma.size)
        if isinstance(op, ir.PReLU) and op.alpha.size > 1:
            return int(op.alpha.size)
    raise ConversionError(
        "a fused layer needs a per-channel op (scale or BatchNorm) to know its width"
    )


def _keys_to_f32(keys: np.ndarray) -> np.ndarray:
    """Ordered int32 keys -> float32 (key order = float order; -0.0 is -1, +0.0 is 0)."""
    k = keys.astype(np.int64)
    bits = np.where(k >= 0, k, (k ^ 0x7FFFFFFF) & 0xFFFFFFFF).astype(np.uint32)
    return bits.view(np.float32)


def _f32_key(value: float) -> int:
    bits = int(np.array([value], np.float32).view(np.int32)[0])
    return bits if bits >= 0 else bits ^ 0x7FFFFFFF


def float_rules(edge_ops, node_ops, *, where: str = "layer") -> ChannelRules:
    """Rules over a real y (float32). Every op before the activation must be a scale, so the
    kink sits at y = 0 and P is monotone on [-max, -0.0] and on [+0.0, max]: each side's
    switch point is found exactly by bisection over the float32 values in between."""
    seen_activation = False
    for op in edge_ops:
        if isinstance(op, ir.PReLU | ir.LeakyReLU):
            if seen_activation:
                raise ConversionError(f"{where}: two activations on one edge")
            seen_activation = True
        elif isinstance(op, ir.BatchNorm) and not seen_activation:
            raise ConversionError(
                f"{where}: a BatchNorm before the activation moves its kink off 0"
            )
    channels = _channels(edge_ops, node_ops)

    def truth(keys: np.ndarray) -> np.ndarray:  # keys [C, M] -> P [C, M]
        y = _keys_to_f32(keys.reshape(-1)).reshape(keys.shape)
        return apply_channel_ops(node_ops, apply_channel_ops(edge_ops, y)) >= 0

    runs: list[list[tuple]] = [[] for _ in range(channels)]
    for lo_key, hi_key in ((_f32_key(-_F32_MAX), -1), (0, _f32_key(_F32_MAX))):
        ends = truth(np.tile(np.array([[lo_key, hi_key]], np.int64), (channels, 1)))
        a, b = np.full(channels, lo_key, np.int64), np.full(channels, hi_key, np.int64)
        # invariant: truth(a) == ends[:, 0] != truth(b) where the two ends differ
        switch = ends[:, 0] != ends[:, 1]
        for _ in range(40):
            mid = (a + b) // 2
            t = truth(mid[:, None])[:, 0]
            same = t == ends[:, 0]
            open_ = switch & (b - a > 1)
            a, b = np.where(open_ & same, mid, a), np.where(open_ & ~same, mid, b)
        for c in range(channels):
            first, last = bool(ends[c, 0]), bool(ends[c, 1])
            lo_v, hi_v = lo_key, hi_key
            if first and last:
                runs[c].append((lo_v, hi_v))
            elif first:
                runs[c].append((lo_v, int(a[c])))
            elif last:
                runs[c].append((int(b[c]), hi_v))
    merged = []
    for c_runs in runs:  # a run ending at -0.0 (key -1) continues at +0.0 (key 0)
        out: list[tuple] = []
        for start, end in c_runs:
            if out and out[-1][1] == -1 and start == 0:
                out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
        merged.append(out)
    lowest, highest = _f32_key(-_F32_MAX), _f32_key(_F32_MAX)
    modes, bounds = _classify(
        merged,
        node_direction(node_ops, channels) > 0,
        lowest,
        highest,
        _f32_key(-np.inf),
        _f32_key(np.inf),
        where,
    )
    keys = np.asarray(bounds, np.int64).reshape(channels, 2)
    return ChannelRules(modes, _keys_to_f32(keys.reshape(-1)).reshape(channels, 2))
