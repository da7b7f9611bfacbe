"""The multi-task R-CNN: outputs per head in eval mode, the seven losses in train mode, learning on a
tiny set, head dropping, and the RoI Pool box pooler against torchvision's roi_pool."""
from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_pool

from edgeseg.models.rcnn import HEADS, MultiScaleRoIPool, RCNNConfig, build_rcnn

SIZE = 128


def tiny_config(**kw: object) -> RCNNConfig:
    return RCNNConfig(image_size=SIZE, widths=[8, 8, 16, 16, 16], fpn_channels=16, box_head_dim=32,
                      keypoint_head_layers=1, mask_head_layers=1, **kw)  # type: ignore[arg-type]


def tiny_sample() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One image with a red square (label 2) and a 'person' box (label 5) with 17 visible keypoints."""
    image = torch.full((3, SIZE, SIZE), 0.3)
    image[0, 20:60, 20:60] = 1.0
    image[1, 70:120, 80:100] = 1.0
    masks = torch.zeros(2, SIZE, SIZE, dtype=torch.uint8)
    masks[0, 20:60, 20:60] = 1
    masks[1, 70:120, 80:100] = 1
    kp = torch.zeros(2, 17, 3)
    kp[1, :, 0] = torch.linspace(82, 98, 17)
    kp[1, :, 1] = torch.linspace(72, 118, 17)
    kp[1, :, 2] = 2
    semantic = torch.full((SIZE, SIZE), 6, dtype=torch.long)
    semantic[20:60, 20:60] = 1
    semantic[70:120, 80:100] = 4
    boxes = torch.tensor([[20.0, 20, 60, 60], [80, 70, 100, 120]])
    return image, {"boxes": boxes, "labels": torch.tensor([2, 5]),
                   "masks": masks, "keypoints": kp, "semantic": semantic}


def test_train_mode_gives_all_seven_losses_finite() -> None:
    torch.manual_seed(0)
    model = build_rcnn(tiny_config()).train()
    image, target = tiny_sample()
    losses = model([image], [target])
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg",
                           "loss_mask", "loss_keypoint", "loss_semantic"}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())


def test_eval_mode_outputs_per_head() -> None:
    torch.manual_seed(0)
    model = build_rcnn(tiny_config()).eval()
    image, _ = tiny_sample()
    with torch.no_grad():
        out = model([image, image[:, :96, :112]])  # a second image of another size: outputs at its size
    for det, (h, w) in zip(out, [(SIZE, SIZE), (96, 112)], strict=True):
        n = det["boxes"].shape[0]
        assert det["scores"].shape == (n,) and det["labels"].shape == (n,)
        assert det["masks"].shape == (n, 1, h, w)
        assert det["keypoints"].shape == (n, 17, 3)
        assert det["sem_seg"].shape == (h, w) and int(det["sem_seg"].max()) < 10
        if n:
            assert (det["boxes"][:, 2] <= w).all() and (det["boxes"][:, 3] <= h).all()
            assert ((det["labels"] >= 1) & (det["labels"] <= 5)).all()
            assert ((det["masks"] >= 0) & (det["masks"] <= 1)).all()


def test_drop_heads_removes_outputs() -> None:
    model = build_rcnn(tiny_config()).eval()
    model.drop_heads(["box"])
    with torch.no_grad():
        det = model([tiny_sample()[0]])[0]
    assert set(det) == {"boxes", "labels", "scores"}
    dropped = ("roi_heads.mask", "roi_heads.keypoint", "semantic")
    assert not any(k.startswith(dropped) for k in model.state_dict())


def test_bad_config_rejected() -> None:
    with pytest.raises(ValueError):
        build_rcnn(tiny_config(heads=["mask"]))
    with pytest.raises(ValueError):
        build_rcnn(tiny_config(roi_op="warp"))
    with pytest.raises(ValueError, match="unknown RCNNConfig"):
        build_rcnn({"heads": list(HEADS), "colour": 3})


@pytest.mark.parametrize("roi_op", ["align", "pool"])
def test_losses_decrease_over_30_steps(roi_op: str) -> None:
    torch.manual_seed(0)
    heads = list(HEADS) if roi_op == "align" else ["box"]
    model = build_rcnn(tiny_config(heads=heads, roi_op=roi_op)).train()
    image, target = tiny_sample()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    history = []
    for _ in range(30):
        losses = model([image], [target])
        total = sum(losses.values())
        assert isinstance(total, torch.Tensor) and torch.isfinite(total)
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    first = sum(history[0].values())
    last = sum(sum(h.values()) for h in history[-5:]) / 5
    assert last < 0.6 * first, (history[0], history[-1])
    for key in ("loss_objectness", "loss_classifier"):
        assert sum(h[key] for h in history[-5:]) / 5 < history[0][key]


def test_roi_pool_matches_torchvision_per_level() -> None:
    torch.manual_seed(0)
    feats = {"0": torch.randn(2, 4, 64, 64), "1": torch.randn(2, 4, 32, 32), "2": torch.randn(2, 4, 16, 16)}
    # 512x512 images: strides 8, 16, 32 are FPN levels k = 3, 4, 5. The canonical rule (as in
    # MultiScaleRoIAlign) picks k = floor(4 + log2(sqrt(area) / 224)), clamped to 3..5.
    boxes = [torch.tensor([[10.0, 10, 40, 40], [0, 0, 300, 300]]), torch.tensor([[3.0, 7, 503, 507]])]
    out = MultiScaleRoIPool(["0", "1", "2"], 3)(feats, boxes, [(512, 512), (512, 512)])
    assert out.shape == (3, 4, 3, 3)
    expected = [roi_pool(feats["0"][:1], [boxes[0][:1]], 3, 1 / 8),  # sqrt(area) 30 -> k 1 -> 3
                roi_pool(feats["1"][:1], [boxes[0][1:]], 3, 1 / 16),  # 300 -> k 4
                roi_pool(feats["2"][1:], [boxes[1]], 3, 1 / 32)]  # 500 -> k 5
    torch.testing.assert_close(out, torch.cat(expected))
