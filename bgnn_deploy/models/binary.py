"""Binary building blocks: sign with a straight-through gradient, binary 1x1 convs,
learned rescaling and balance functions.

Binary means ±1 everywhere in bgnn-deploy: ``sign(0) = +1`` (as larq's ``ste_sign``
and LCE's bit-packing do; ``torch.sign(0)`` would give 0)::

    >>> import torch
    >>> sign_ste(torch.tensor([-0.5, 0.0, 2.0]))
    tensor([-1.,  1.,  1.])
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "Binarize",
    "Center",
    "LearnedScale",
    "PointwiseConv",
    "binary_sign",
    "prelu",
    "sign_ste",
]


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """Map to ±1 with zero going to +1 (no gradient)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class _SignSTE(torch.autograd.Function):
    """Forward: sign. Backward: pass the gradient where |x| <= 1, zero elsewhere
    (the clipped straight-through estimator of Courbariaux et al. / larq's ste_sign)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    """±1 sign with the straight-through gradient used for training binary networks."""
    return _SignSTE.apply(x)


class Binarize(nn.Module):
    """``sign_ste`` as a layer, so that a network's structure shows where it binarizes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sign_ste(x)


class PointwiseConv(nn.Module):
    """1x1 convolution over the channel axis (dim 1) with optionally binary weights.

    The same layer serves 2-D edge features ``(B, C, N, k)``, 1-D node features
    ``(B, C, N)`` and vectors ``(B, C)``: a 1x1 conv, a pointwise Conv1d and a Linear
    layer are one operation, which is also how the converter expresses binary dense
    layers (as 1x1 binary convolutions). Latent weights are real and kept in [-1, 1]
    by :meth:`clip_`; the forward pass uses their sign.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        binary_weights: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.binary_weights = binary_weights
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # Kaiming-normal latent weights (as the paper's code), clipped to the STE's range.
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / in_channels))
        if binary_weights:
            self.clip_()

    @torch.no_grad()
    def clip_(self) -> None:
        """Clamp latent weights to [-1, 1]: outside it the STE gradient is zero forever."""
        if self.binary_weights:
            self.weight.clamp_(-1.0, 1.0)

    def effective_weight(self) -> torch.Tensor:
        """The weights the forward pass uses: ±1 when binary, else the latent ones."""
        return sign_ste(self.weight) if self.binary_weights else self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.effective_weight()
        if x.dim() == 2:
            return F.linear(x, w, self.bias)
        shape = (self.out_channels, self.in_channels) + (1,) * (x.dim() - 2)
        conv = F.conv2d if x.dim() == 4 else F.conv1d
        return conv(x, w.reshape(shape), self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, binary_weights={self.binary_weights}, "
            f"bias={self.bias is not None}"
        )


class LearnedScale(nn.Module):
    """Learned rescaling of a binary layer's output (XNOR-Net++, Bulat & Tzimiropoulos 2019).

    One factor per output channel, optionally multiplied by one per point and one per
    neighbour: the analytic XNOR-Net alpha replaced by parameters learned end to end.
    Expects the channel axis at dim 1, points at dim 2 and neighbours at dim 3.
    """

    def __init__(self, channels: int, points: int = 0, neighbours: int = 0):
        super().__init__()
        self.channel = nn.Parameter(torch.ones(channels))
        self.point = nn.Parameter(torch.ones(points)) if points else None
        self.neighbour = nn.Parameter(torch.ones(neighbours)) if neighbours else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tail = (1,) * (x.dim() - 2)
        out = x * self.channel.reshape(-1, *tail)
        if self.point is not None:
            out = out * self.point.reshape(-1, *tail[1:])
        if self.neighbour is not None:
            out = out * self.neighbour
        return out


class Center(nn.Module):
    """Balance function: subtract the mean or median before binarization, so that the
    signs split evenly (more information per bit).

    ``axis`` is ``"points"`` (per channel, over the points of one cloud) or
    ``"channels"`` (per point, over its channels). Statistics are per sample, so a
    batch of one behaves exactly as in a larger batch.
    """

    def __init__(self, op: str, axis: str = "points"):
        super().__init__()
        if op not in ("mean", "median"):
            raise ValueError(f"balance op must be 'mean' or 'median', got {op!r}")
        self.op = op
        self.dim = 2 if axis == "points" else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "mean":
            return x - x.mean(self.dim, keepdim=True)
        # The lower median (torch.median's), via sort: exportable to ONNX, unlike median.
        n = x.shape[self.dim]
        return x - x.sort(dim=self.dim).values.narrow(self.dim, (n - 1) // 2, 1)

    def extra_repr(self) -> str:
        return f"op={self.op}, dim={self.dim}"


def prelu() -> nn.PReLU:
    """One learned slope per layer, initialised to 0.25 (as in the paper)."""
    return nn.PReLU(num_parameters=1, init=0.25)
