"""The static rewrite is faithful: the deploy wrapper (torch eager) == the original eager model.

Detections: same count; each deploy detection matches an eager one of the same label with box
IoU >= 0.999 and |score difference| <= 1e-4 (swaps allowed only at the K-th slot among scores tied
within 1e-4). Masks: the deploy 28x28 probabilities equal the eager mask head run on the same boxes
(<= 1e-5). Keypoints: equal (<= 1e-3 px) to the eager keypoint head's heatmaps decoded by the runtime's
numpy decoder (the deploy graph decodes on the 56x56 grid, torchvision on a bicubic upsampling: a
documented difference). Semantic maps: >= 99.9 % of pixels agree.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from export_testutil import FCN_NAMES, build, match

from edgeseg.data.shapes import render_image
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.postprocess import decode_heatmaps


def frames(count: int, hw: tuple[int, int] = (320, 320)) -> np.ndarray:
    side = max(hw)
    return np.stack([render_image(7, i, side, "val")[0][:hw[0], :hw[1]] for i in range(count)])


def check_detections(dep: tuple, eager: dict, i: int) -> np.ndarray:
    """Asserts the box/score/label agreement of image i; returns, per deploy slot, its eager index."""
    n = int(dep[3][i])
    boxes, scores, labels = dep[0][i, :n].numpy(), dep[1][i, :n].numpy(), dep[2][i, :n].numpy()
    assert n == len(eager["boxes"])
    idx, iou = match(boxes, labels, eager["boxes"].numpy(), eager["labels"].numpy())
    same = iou >= 0.999
    cut = scores[-1] if n == dep[0].shape[1] else -1.0
    assert (same | (scores <= cut + 1e-4)).all()
    assert np.abs(scores - eager["scores"].numpy()[idx])[same].max(initial=0) <= 1e-4
    return idx


@pytest.mark.parametrize("hw", [(320, 320), (240, 320), (400, 400)])
def test_multitask_rcnn(hw: tuple[int, int]) -> None:
    model, info = build("shapes_rcnn", seed=1)
    deploy = wrap(model, info, "edgeseg", hw)
    images = frames(2, hw)
    with torch.no_grad():
        dep = deploy(torch.from_numpy(images))
        batch = [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]
        eager = model(batch)
        image_list, _ = model.transform(batch)
        features = model.backbone(image_list.tensors)
    scale = torch.tensor(deploy.geometry.ratio_xy * 2)
    for i, out in enumerate(eager):
        check_detections(dep, out, i)
        n = int(dep[3][i])
        boxes = dep[0][i, :n] / scale  # back to the resized image, where the heads pool
        sizes = image_list.image_sizes
        with torch.no_grad():
            heads = model.roi_heads
            feats = {k: v[i:i + 1] for k, v in features.items()}
            size = sizes[i:i + 1]
            mask_logits = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(feats, [boxes], size)))
            pooled = heads.keypoint_roi_pool(feats, [boxes], size)
            heat = heads.keypoint_predictor(heads.keypoint_head(pooled))
        labels = dep[2][i, :n].long()
        masks = mask_logits[torch.arange(n), labels].sigmoid()
        assert torch.abs(masks - dep[4][i, :n]).max() <= 1e-5
        points = decode_heatmaps(heat.numpy(), boxes.numpy())
        points[..., :2] *= np.array(deploy.geometry.ratio_xy, dtype=np.float32)
        assert np.abs(points - dep[5][i, :n].numpy()).max(initial=0) <= 1e-3
        assert (dep[6][i].numpy() == out["sem_seg"].numpy()).mean() >= 0.999


@pytest.mark.parametrize("name", ["faster_rcnn_roipool", "rcnn_baseline"])
def test_box_only_models(name: str) -> None:
    model, info = build(name, seed=2)
    deploy = wrap(model, info, "edgeseg")
    images = frames(2)
    with torch.no_grad():
        dep = deploy(torch.from_numpy(images))
        eager = model([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images])
    for i, out in enumerate(eager):
        check_detections(dep, out, i)


@pytest.mark.parametrize("name", FCN_NAMES)
def test_fcn(name: str) -> None:
    model, info = build(name)
    deploy = wrap(model, info, "edgeseg")
    images = frames(2)
    with torch.no_grad():
        dep = deploy(torch.from_numpy(images))[0]
        eager = model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).argmax(1)
    assert (dep.numpy() == eager.numpy()).mean() >= 0.999


@pytest.mark.slow
def test_torchvision_maskrcnn_random_init(tmp_path) -> None:
    """torchvision's own maskrcnn_resnet50_fpn (random weights, 320 px) through the same wrapper, then ORT."""
    from torchvision.models import detection

    from edgeseg.export.onnx_export import deploy_metadata, export_deploy
    from edgeseg.models.zoo import ModelInfo
    from edgeseg.runtime.backends.ort import OrtBackend

    torch.manual_seed(0)
    model = detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=320, max_size=320)
    classes = [f"c{i}" for i in range(1, 91)]
    info = ModelInfo("maskrcnn_resnet50_fpn", "torchvision", "instance", classes, 320, {})
    model.eval()
    deploy = wrap(model, info, "edgeseg", (240, 320))
    images = frames(1, (240, 320))
    with torch.no_grad():
        dep = deploy(torch.from_numpy(images))
        eager = model([torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255])
    check_detections(dep, eager[0], 0)
    path = export_deploy(deploy, tmp_path / "tv.onnx", deploy_metadata(deploy, info, "edgeseg"))
    got = OrtBackend(path).infer({"images": images})
    n = int(dep[3][0])
    assert int(got["num_dets"][0]) == n
    idx, iou = match(got["boxes"][0, :n], got["classes"][0, :n], dep[0][0, :n].numpy(), dep[2][0, :n].numpy())
    assert (iou >= 0.99).all()
    assert np.abs(got["scores"][0, :n] - dep[1][0, :n].numpy()[idx]).max() <= 1e-3
    assert np.abs(got["masks"][0, :n] - dep[4][0, :n].numpy()[idx]).max() <= 1e-3
