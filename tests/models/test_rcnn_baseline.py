"""The R-CNN baseline: warping, proposals in image coordinates, outputs, losses, learning."""
from __future__ import annotations

import torch

from edgeseg.models.rcnn_baseline import build_rcnn_baseline

from .test_rcnn import tiny_sample


def test_warp_resamples_the_box_pixels() -> None:
    model = build_rcnn_baseline({"crop": 16})
    image = torch.zeros(3, 64, 64)
    image[:, 10:30, 20:50] = 0.5  # a uniform patch: its warp is the patch's normalised value everywhere
    crops = model.warp(image, torch.tensor([[22.0, 12, 48, 28]]))
    expected = ((torch.full((3,), 0.5) - model.mean[:, 0, 0]) / model.std[:, 0, 0]).view(1, 3, 1, 1)
    assert crops.shape == (1, 3, 16, 16)
    torch.testing.assert_close(crops, expected.expand(1, 3, 16, 16))


def test_eval_outputs_and_proposals_inside_image() -> None:
    torch.manual_seed(0)
    model = build_rcnn_baseline({"proposals": 20}).eval()
    image = torch.rand(3, 96, 128)
    props = model.proposals([image])[0]
    assert props.shape[1] == 4 and len(props) <= 20
    assert (props[:, 2] <= 128 + 1e-3).all() and (props[:, 3] <= 96 + 1e-3).all()
    with torch.no_grad():
        det = model([image])[0]
    assert set(det) == {"boxes", "labels", "scores"}
    assert len(det["boxes"]) == len(det["labels"]) == len(det["scores"]) <= 50


def test_only_the_classifier_trains_and_losses_decrease() -> None:
    torch.manual_seed(0)
    model = build_rcnn_baseline({}).train()
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier"}
    image, target = tiny_sample()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 3e-3)
    history = []
    for _ in range(30):
        losses = model([image], [target])
        assert set(losses) == {"loss_classifier", "loss_box_reg"}
        total = losses["loss_classifier"] + losses["loss_box_reg"]
        assert torch.isfinite(total)
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append(float(total.detach()))
    assert sum(history[-5:]) / 5 < 0.6 * history[0]
