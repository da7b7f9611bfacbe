"""Helpers for the surgery tests: a torchvision Mask R-CNN export and small hand-built graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

IMAGE_SIZE = 320


def export_torchvision_maskrcnn(path: Path, backbone: str) -> np.ndarray:
    """torchvision's own traced ONNX export (opset 17) of a seeded, randomly initialised Mask R-CNN."""
    torch = pytest.importorskip("torch")
    detection = pytest.importorskip("torchvision.models.detection")
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    torch.manual_seed(0)
    torch.set_num_threads(1)
    if backbone == "resnet50":
        model = detection.maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=6, min_size=IMAGE_SIZE, max_size=IMAGE_SIZE
        )
    else:
        body = resnet_fpn_backbone(backbone_name=backbone, weights=None, trainable_layers=5)
        model = detection.MaskRCNN(
            body,
            num_classes=6,
            min_size=IMAGE_SIZE,
            max_size=IMAGE_SIZE,
            rpn_post_nms_top_n_test=300,
            box_detections_per_img=30,
        )
    model.eval()
    image = torch.rand(3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(1))
    torch.onnx.export(
        model,
        ([image],),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["image"],
        output_names=["boxes", "labels", "scores", "masks"],
    )
    return image.numpy()


def make_model(
    nodes: list,
    inputs: list,
    outputs: list,
    initializers: list | None = None,
    opset: int = 17,
    domains: tuple[str, ...] = (),
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=initializers or [])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=opsets)


def conv_relu_model() -> onnx.ModelProto:
    """A clean graph: Conv -> Relu, static shapes, float32 everywhere."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    return make_model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
            helper.make_node("Relu", ["c"], ["y"], name="relu"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [w],
    )
