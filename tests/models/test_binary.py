"""Binary primitives against NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgnn_deploy.models.binary import Center, LearnedScale, PointwiseConv, binary_sign, sign_ste


def np_sign(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0).astype(np.float32)


class TestSign:
    def test_zero_maps_to_plus_one(self):
        x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, -1e-30, 3.0])
        np.testing.assert_array_equal(sign_ste(x).numpy(), np_sign(x.numpy()))
        assert sign_ste(torch.tensor([0.0])).item() == 1.0

    def test_matches_numpy_on_random_values(self):
        x = torch.randn(1000)
        np.testing.assert_array_equal(binary_sign(x).numpy(), np_sign(x.numpy()))

    def test_straight_through_gradient_is_clipped_at_one(self):
        x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], requires_grad=True)
        sign_ste(x).backward(torch.full_like(x, 3.0))
        expected = np.where(np.abs(x.detach().numpy()) <= 1, 3.0, 0.0)
        np.testing.assert_array_equal(x.grad.numpy(), expected)


class TestPointwiseConv:
    @pytest.mark.parametrize("shape", [(4, 6), (2, 6, 5), (2, 6, 5, 3)])
    def test_binary_conv_is_matmul_with_signed_weights(self, shape):
        torch.manual_seed(0)
        conv = PointwiseConv(6, 7, binary_weights=True)
        x = torch.randn(*shape)
        w = np_sign(conv.weight.detach().numpy())
        expected = np.einsum("oc,bc...->bo...", w, x.numpy())
        np.testing.assert_allclose(conv(x).detach().numpy(), expected, rtol=1e-5, atol=1e-5)

    def test_float_conv_with_bias(self):
        conv = PointwiseConv(3, 2, binary_weights=False, bias=True)
        with torch.no_grad():
            conv.bias.copy_(torch.tensor([0.5, -1.0]))
        x = torch.randn(5, 3)
        expected = x.numpy() @ conv.weight.detach().numpy().T + np.array([0.5, -1.0])
        np.testing.assert_allclose(conv(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)

    def test_clip_keeps_latent_weights_in_unit_range(self):
        conv = PointwiseConv(4, 4)
        with torch.no_grad():
            conv.weight.mul_(100)
        conv.clip_()
        assert conv.weight.abs().max().item() <= 1.0

    def test_float_weights_are_not_clipped(self):
        conv = PointwiseConv(4, 4, binary_weights=False)
        with torch.no_grad():
            conv.weight.fill_(5.0)
        conv.clip_()
        assert conv.weight.max().item() == 5.0


def test_learned_scale_per_channel_point_and_neighbour():
    scale = LearnedScale(3, points=4, neighbours=2)
    with torch.no_grad():
        scale.channel.copy_(torch.tensor([1.0, 2.0, 3.0]))
        scale.point.copy_(torch.tensor([1.0, 0.5, 2.0, -1.0]))
        scale.neighbour.copy_(torch.tensor([10.0, 1.0]))
    x = torch.ones(2, 3, 4, 2)
    expected = np.einsum("c,p,k->cpk", [1, 2, 3], [1, 0.5, 2, -1], [10, 1])
    np.testing.assert_allclose(scale(x).detach().numpy(), np.broadcast_to(expected, (2, 3, 4, 2)))


@pytest.mark.parametrize("op", ["mean", "median"])
@pytest.mark.parametrize("axis,dim", [("points", 2), ("channels", 1)])
def test_center_against_numpy(op, axis, dim):
    x = torch.randn(3, 5, 7)
    ref = np.mean if op == "mean" else np.median
    # torch.median returns the lower of the two middle values; use odd sizes (5, 7).
    expected = x.numpy() - ref(x.numpy(), axis=dim, keepdims=True)
    np.testing.assert_allclose(Center(op, axis)(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_center_is_per_sample():
    x = torch.randn(4, 3, 9)
    center = Center("mean", "points")
    np.testing.assert_allclose(center(x)[1:2].numpy(), center(x[1:2]).numpy(), atol=1e-6)
