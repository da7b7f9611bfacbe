"""RoIAlign ladder steps 1-2: naive oracle == torchvision, C++ twin == torchvision, torch op == twin.

Tolerance 1e-5 (absolute, float32) throughout; the twin usually matches torchvision bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torchvision.ops import MultiScaleRoIAlign

from edgeseg.errors import EdgesegError
from edgeseg.ops import cpu, naive, torch_ops

TOL = 1e-5


def make_rois(n: int, extent: float, seed: int, max_size: float = 60.0) -> torch.Tensor:
    """Random boxes, some partly or wholly outside [0, extent], a few of zero width/height."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * (extent + 40) - 20
    wh = torch.rand(n, 2, generator=g) * max_size
    wh[::7, 0] = 0.0  # zero-width boxes
    wh[::11] = 0.0  # zero-area boxes
    return torch.cat([xy, xy + wh], 1)


def tv_rois(rois: torch.Tensor, batch_idx: torch.Tensor) -> torch.Tensor:
    return torch.cat([batch_idx[:, None].float(), rois], 1)


def twin(
    features: list[torch.Tensor], rois: torch.Tensor, batch_idx: torch.Tensor, **fields: object
) -> torch.Tensor:
    out = cpu.roi_align([f.numpy() for f in features], rois.numpy(), batch_idx.numpy(), **fields)
    return torch.from_numpy(out)


@pytest.fixture(scope="module")
def case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    features = torch.randn(2, 3, 12, 15)
    rois = make_rois(22, 60.0, seed=1)
    batch_idx = torch.arange(22, dtype=torch.int32) % 2
    return features, rois, batch_idx


@pytest.mark.parametrize("aligned", [0, 1])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_matches_torchvision(case, aligned, sampling_ratio):
    features, rois, batch_idx = case
    fields = dict(
        spatial_scales=[0.25], sampling_ratio=sampling_ratio, aligned=aligned, output_height=5, output_width=4
    )
    expected = torchvision.ops.roi_align(
        features, tv_rois(rois, batch_idx), (5, 4), 0.25, sampling_ratio, bool(aligned)
    )
    torch.testing.assert_close(
        naive.roi_align([features], rois, batch_idx, **fields), expected, atol=TOL, rtol=0
    )
    torch.testing.assert_close(twin([features], rois, batch_idx, **fields), expected, atol=TOL, rtol=0)


def test_quantized_matches_roi_pool(case):
    features, rois, batch_idx = case
    rois = rois.clone()
    rois[:5] = torch.tensor([[2.0, 2.0, 10.0, 10.0]]) * 4 + 2  # coordinates landing on .5 after scaling
    fields = dict(spatial_scales=[0.25], quantized=1, output_height=3, output_width=4)
    expected = torchvision.ops.roi_pool(features, tv_rois(rois, batch_idx), (3, 4), 0.25)
    torch.testing.assert_close(
        naive.roi_align([features], rois, batch_idx, **fields), expected, atol=TOL, rtol=0
    )
    torch.testing.assert_close(twin([features], rois, batch_idx, **fields), expected, atol=TOL, rtol=0)


def test_multilevel_matches_multiscale_roi_align():
    torch.manual_seed(3)
    image = 512
    sizes = [128, 64, 32, 16]  # scales 1/4 .. 1/32: FPN levels 2..5
    feats = [torch.randn(2, 4, s, s) for s in sizes]
    g = torch.Generator().manual_seed(4)
    side = torch.cat(
        [
            torch.rand(10, generator=g) * 50 + 5,
            torch.rand(10, generator=g) * 100 + 100,
            torch.rand(10, generator=g) * 200 + 230,
            torch.rand(10, generator=g) * 300 + 460,
        ]
    )
    xy = torch.rand(40, 2, generator=g) * 200
    rois = torch.cat([xy, xy + side[:, None] * torch.tensor([[1.0, 0.8]])], 1)
    batch_idx = (torch.arange(40) % 2).to(torch.int32)
    pooler = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    boxes = [rois[batch_idx == b] for b in range(2)]
    expected = pooler({str(i): f for i, f in enumerate(feats)}, boxes, [(image, image)] * 2)
    order = torch.cat([torch.nonzero(batch_idx == b)[:, 0] for b in range(2)])  # pooler output order
    fields = dict(spatial_scales=[1 / 4, 1 / 8, 1 / 16, 1 / 32], sampling_ratio=2)
    levels = {naive.level_of(r, 224.0, 4, 2, 4) for r in rois}
    assert levels == {0, 1, 2, 3}, "the boxes must hit every FPN level"
    torch.testing.assert_close(
        naive.roi_align(feats, rois[order], batch_idx[order], **fields), expected, atol=TOL, rtol=0
    )
    torch.testing.assert_close(
        twin(feats, rois[order], batch_idx[order], **fields), expected, atol=TOL, rtol=0
    )


@pytest.mark.parametrize("aligned", [0, 1])
def test_max_mode_twin_matches_oracle(case, aligned):
    features, rois, batch_idx = case
    rois, batch_idx = rois[:8], batch_idx[:8]  # the oracle is slow with adaptive sampling
    fields = dict(spatial_scales=[0.25], mode=1, sampling_ratio=0, aligned=aligned)
    expected = naive.roi_align([features], rois, batch_idx, **fields)
    torch.testing.assert_close(twin([features], rois, batch_idx, **fields), expected, atol=TOL, rtol=0)
    avg = twin([features], rois, batch_idx, **{**fields, "mode": 0})
    assert (expected >= avg - TOL).all(), "a max over samples is never below their mean"


def test_empty_rois_give_empty_output(case):
    features, _, _ = case
    rois, idx = torch.zeros(0, 4), torch.zeros(0, dtype=torch.int32)
    out = twin([features], rois, idx, spatial_scales=[0.25])
    assert out.shape == (0, 3, 7, 7)
    assert torch_ops.roi_align(features, rois, idx, spatial_scales=[0.25]).shape == (0, 3, 7, 7)


def test_float16_is_float32_rounded(case):
    features, rois, batch_idx = case
    f16 = features.half()
    out = cpu.roi_align([f16.numpy()], rois.half().numpy(), batch_idx.numpy(), spatial_scales=[0.25])
    assert out.dtype == np.float16
    ref = twin([f16.float()], rois.half().float(), batch_idx, spatial_scales=[0.25]).half()
    np.testing.assert_array_equal(out, ref.numpy())


def test_torch_op_matches_twin_and_fake_shapes(case):
    features, rois, batch_idx = case
    fields = dict(spatial_scales=[0.25], sampling_ratio=0, aligned=1, output_height=3, output_width=6)
    torch.testing.assert_close(
        torch_ops.roi_align(features, rois, batch_idx, **fields),
        twin([features], rois, batch_idx, **fields),
        atol=0,
        rtol=0,
    )
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        out = torch_ops.roi_align(
            mode.from_tensor(features), mode.from_tensor(rois), mode.from_tensor(batch_idx), **fields
        )
    assert tuple(out.shape) == (22, 3, 3, 6) and out.dtype == torch.float32


def test_gradient_matches_torchvision(case):
    features, rois, batch_idx = case
    f = features.clone().requires_grad_(True)
    out = torch_ops.roi_align(f, rois[:6], batch_idx[:6], spatial_scales=[0.25], sampling_ratio=2, aligned=1)
    grad = torch.randn_like(out)
    (ours,) = torch.autograd.grad(out, f, grad)
    ref_out = torchvision.ops.roi_align(f, tv_rois(rois[:6], batch_idx[:6]), 7, 0.25, 2, True)
    (theirs,) = torch.autograd.grad(ref_out, f, grad)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(batch_idx=np.array([0, 5], np.int32)), "batch_idx must be in"),
        (dict(rois=np.zeros((2, 5), np.float32)), "rois must be"),
        (dict(features=[np.zeros((1, 2, 4, 4), np.float64)]), "float32 or float16"),
        (dict(spatial_scales=[0.25, 0.125]), "spatial_scales"),
        (dict(mode=3), "mode must be"),
        (dict(bogus=1), "unknown field"),
    ],
)
def test_bad_input_is_a_clear_error(change, message):
    args = dict(
        features=[np.zeros((1, 2, 4, 4), np.float32)],
        rois=np.zeros((2, 4), np.float32),
        batch_idx=np.zeros(2, np.int32),
        spatial_scales=[0.25],
    )
    args.update(change)
    with pytest.raises(EdgesegError, match=message):
        cpu.roi_align(args.pop("features"), args.pop("rois"), args.pop("batch_idx"), **args)
