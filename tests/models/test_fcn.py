"""Semantic FCN: each upsampling kind against a naive reference, shapes, and that training learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from edgeseg.models.fcn import UPSAMPLE_KINDS, Upsample2x, bed_of_nails, build_fcn


def test_bed_of_nails_matches_loop() -> None:
    x = torch.randn(2, 3, 4, 5)
    out = bed_of_nails(x)
    expected = torch.zeros(2, 3, 8, 10)
    for i in range(4):
        for j in range(5):
            expected[:, :, 2 * i, 2 * j] = x[:, :, i, j]
    assert torch.equal(out, expected)


def test_max_unpool_puts_values_back_at_the_switches() -> None:
    x = torch.randn(1, 2, 6, 6)
    pooled, idx = torch.nn.MaxPool2d(2, return_indices=True)(x)
    out = Upsample2x("max_unpool", 2)(pooled, idx, [6, 6])
    expected = torch.zeros_like(x)
    for c in range(2):
        for i in range(3):
            for j in range(3):
                cell = x[0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                k = int(cell.flatten().argmax())
                expected[0, c, 2 * i + k // 2, 2 * j + k % 2] = cell.max()
    assert torch.equal(out, expected)


@pytest.mark.parametrize("kind", ["nearest", "bilinear", "bicubic"])
def test_interpolating_kinds_match_torch(kind: str) -> None:
    x = torch.randn(1, 3, 5, 4)
    out = Upsample2x(kind, 3)(x, torch.empty(0), [10, 8])
    if kind == "nearest":
        expected = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    else:
        expected = F.interpolate(x, size=(10, 8), mode=kind, align_corners=False)
    torch.testing.assert_close(out, expected)


def test_transposed_kind_is_learned_and_doubles_size() -> None:
    up = Upsample2x("transposed", 4)
    assert up.deconv is not None and up.deconv.weight.requires_grad
    assert up(torch.randn(1, 4, 3, 5), torch.empty(0), [6, 10]).shape == (1, 4, 6, 10)


@pytest.mark.parametrize("kind", UPSAMPLE_KINDS)
def test_forward_shapes_train_and_eval(kind: str) -> None:
    model = build_fcn({"upsample": kind, "widths": [4, 8, 8]})
    x = torch.rand(2, 3, 32, 40)
    for mode in (True, False):
        model.train(mode)
        out = model(x)
        assert out.shape == (2, 10, 32, 40) and torch.isfinite(out).all()


def test_rejects_size_not_divisible_by_the_stride() -> None:
    model = build_fcn({})
    assert model.stride == 32  # five pooling stages by default
    with pytest.raises(ValueError, match="divisible by 32"):
        model(torch.rand(1, 3, 48, 64))


@pytest.mark.parametrize("widths", [[4, 8], [4, 8, 8, 8, 8]])
def test_depth_follows_widths(widths: list[int]) -> None:
    model = build_fcn({"widths": widths})
    assert len(model.enc) == len(model.up) == len(model.dec) == len(widths)
    size = 2 ** len(widths)
    assert model(torch.rand(1, 3, size, 2 * size)).shape == (1, 10, size, 2 * size)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown upsampling kind"):
        build_fcn({"upsample": "magic"})


@pytest.mark.parametrize("kind", UPSAMPLE_KINDS)
def test_loss_decreases_over_30_steps(kind: str) -> None:
    torch.manual_seed(0)
    model = build_fcn({"upsample": kind, "widths": [8, 8, 16]})
    x = torch.rand(2, 3, 32, 32)
    y = torch.zeros(2, 32, 32, dtype=torch.long)
    y[:, 8:24, 8:24] = 3  # a square of class 3 on class 0
    x[:, 0, 8:24, 8:24] += 1.0
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
