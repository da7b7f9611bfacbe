"""Export of the torch ops as `edgeseg` domain nodes, and those nodes on ONNX Runtime == torch."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch

from edgeseg.ops import onnx_symbolic, ort_ops, torch_ops
from edgeseg.ops.spec import load_spec
from edgeseg.runtime.backends.ort import OrtBackend

ROI_FIELDS = dict(spatial_scales=[0.25, 0.125], sampling_ratio=0, aligned=1, output_height=5, output_width=6)
NMS_FIELDS = dict(score_threshold=0.1, iou_threshold=0.45, pre_nms_top_k=30, max_detections=8)
NAMES = ["p2", "p3", "rois", "batch_idx", "boxes", "scores"]


class Tiny(torch.nn.Module):
    def forward(self, p2, p3, rois, batch_idx, boxes, scores):  # type: ignore[no-untyped-def]
        pooled = torch_ops.roi_align([p2, p3], rois, batch_idx, **ROI_FIELDS)
        return (pooled, *torch_ops.nms(boxes, scores, **NMS_FIELDS))


def tiny_inputs(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(2, 40, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(2, 40, 2, generator=g) * 60 + 1], -1)
    rois = torch.tensor([[0.0, 0, 30, 30], [10, 5, 250, 200], [-5, 20, 40, 90], [3, 3, 3, 3]])
    return (
        torch.randn(2, 3, 32, 32, generator=g),
        torch.randn(2, 3, 16, 16, generator=g),
        rois,
        torch.tensor([0, 1, 1, 0], dtype=torch.int32),
        boxes,
        torch.rand(2, 40, 3, generator=g),
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> str:
    onnx_symbolic.register(17)
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tiny(), tiny_inputs(), str(path), dynamo=False, opset_version=17, input_names=NAMES)
    return str(path)


def test_export_gives_edgeseg_nodes_with_spec_attributes(exported):
    model = onnx.load(exported)
    nodes = {n.op_type: n for n in model.graph.node if n.domain == "edgeseg"}
    assert set(nodes) == {load_spec("roi_align").onnx_op_type, load_spec("nms").onnx_op_type}
    for op, given in (("roi_align", ROI_FIELDS), ("nms", NMS_FIELDS)):
        spec = load_spec(op)
        node = nodes[spec.onnx_op_type]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert set(attrs) == set(spec.field_names)
        want = spec.resolve(given)
        for name, value in want.items():
            assert attrs[name] == pytest.approx(value), name
    assert list(nodes["RoIAlign"].input) == ["p2", "p3", "rois", "batch_idx"]
    assert len(nodes["NMS"].output) == 5


def test_ort_runs_exported_graph_like_torch(exported):
    inputs = tiny_inputs(seed=1)
    backend = OrtBackend(exported, intra_op_threads=1)
    got = backend.infer({n: t.numpy() for n, t in zip(NAMES, inputs, strict=True)})
    want = Tiny()(*inputs)
    assert backend.custom_ops == ["edgeseg::NMS", "edgeseg::RoIAlign"]
    for out, ref in zip(got.values(), want, strict=True):
        np.testing.assert_allclose(out, ref.numpy(), atol=1e-6, rtol=0)
    backend.close()


@pytest.mark.parametrize("domain", ["edgeseg", "trt.plugins"])
def test_plugin_named_nodes_run_too(exported, tmp_path, domain):
    """The surgery pass renames nodes to the TensorRT plugin names; ORT must still run them."""
    model = onnx.load(exported)
    names = ort_ops.plugin_names(domain)
    for node in model.graph.node:
        if node.domain == "edgeseg":
            node.op_type = names.roi_align if node.op_type == "RoIAlign" else names.nms
            node.domain = domain
    if domain != "edgeseg":
        model.opset_import.append(onnx.helper.make_operatorsetid(domain, 1))
    prepared, used = ort_ops.prepare_model(model, (names,))
    assert used == sorted([f"{domain}::EdgesegNMS", f"{domain}::EdgesegRoIAlign"])
    ort_ops.register(names)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.register_custom_ops_library(ort_ops.library_path())
    session = ort.InferenceSession(prepared.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = tiny_inputs(seed=2)
    got = session.run(None, {n: t.numpy() for n, t in zip(NAMES, inputs, strict=True)})
    for out, ref in zip(got, Tiny()(*inputs), strict=True):
        np.testing.assert_allclose(out, ref.numpy(), atol=1e-6, rtol=0)
