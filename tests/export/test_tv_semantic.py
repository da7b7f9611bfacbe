"""torchvision's semantic models (FCN, DeepLabV3, LR-ASPP) from a user's state dict: export, patch, and
the patched graph on ONNX Runtime against torchvision eager; the runtime's semantic path reads it.

The reference is independent of the deploy wrapper: the frame scaled to [0, 1], normalised with
ImageNet's mean/std, resized (bilinear) so its shorter side is 160, torchvision's model (aux classifier
and all), its `out` logits resized to the 192x256 frame. Compared on 2 ShapesWorld frames with seeded
lifelike random weights: the frame-sized logits the graph argmaxes (exposed as an extra output of a
copy of the patched graph) within 1e-3 of the largest |logit| of eager's (the recalibrated random
nets reach |logits| of 100-2000; float32 differs by summation order), and the uint8 label maps
agreeing on >= 99.9 % of pixels (near-ties between the top two logits may flip). The measured
maxima are printed (`-s`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from tv_models import FRAME_HW, SEMANTIC_SHORT_SIDE, frames, reference, through_checkpoint

from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import DeployAdapter
from edgeseg.surgery.registry import patch_file

# one of each head in the default run (its budget: ~3 min for all the torchvision-family tests); the
# other dilated ResNets (50-95 s each on 2 cores) run with `make test-slow`
DEFAULT = ["fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
SLOW = ["fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101"]
LOGITS, PIXELS = 1e-3, 0.999  # LOGITS relative to the largest |logit|
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def eager_logits(model: Any, images: np.ndarray) -> np.ndarray:
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - MEAN) / STD
    h, w = FRAME_HW
    resized = (SEMANTIC_SHORT_SIDE, int(SEMANTIC_SHORT_SIDE * w / h))
    with torch.no_grad():
        out = model(F.interpolate(x, size=resized, mode="bilinear", align_corners=False))["out"]
        return F.interpolate(out, size=FRAME_HW, mode="bilinear", align_corners=False).numpy()


def with_logits_output(path: Path, out: Path) -> Path:
    """A copy of the graph that also returns the input of its final ArgMax (the frame-sized logits)."""
    model = onnx.load(str(path))
    (argmax,) = [n for n in model.graph.node if n.op_type == "ArgMax"]
    logits = onnx.helper.make_tensor_value_info(argmax.input[0], onnx.TensorProto.FLOAT, None)
    model.graph.output.append(logits)
    onnx.save(model, str(out))
    return out


@pytest.mark.parametrize("arch", DEFAULT + [pytest.param(a, marks=pytest.mark.slow) for a in SLOW])
def test_patched_graph_on_ort_matches_torchvision_eager(arch: str, tmp_path: Path) -> None:
    model = reference(arch)
    loaded, info = through_checkpoint(arch, model, tmp_path)
    assert info.extra["torchvision_arch"] == arch and info.task == "semantic"
    deploy = wrap(loaded, info, "edgeseg", FRAME_HW)
    graph = export_deploy(deploy, tmp_path / f"{arch}.onnx", deploy_metadata(deploy, info, "edgeseg"))
    patched = patch_file(graph, tmp_path / f"{arch}.trt.onnx")
    images = frames(2)
    backend = OrtBackend(with_logits_output(patched, tmp_path / "probe.onnx"), intra_op_threads=1)
    got = backend.infer({"images": images})
    backend.close()
    (logits_name,) = [k for k in got if k != "semantic"]
    expected = eager_logits(model, images)
    diff = float(np.abs(got[logits_name] - expected).max())
    scale = float(np.abs(expected).max())
    agree = float((got["semantic"] == expected.argmax(1)).mean())
    print(f"\n{arch}: logits max abs diff {diff:.2e} (|logits| <= {scale:.1f}), "
          f"labels agree {agree:.5f}, classes present {np.unique(got['semantic']).size}")
    assert got["semantic"].dtype == np.uint8 and got["semantic"].shape == (2, *FRAME_HW)
    assert np.unique(got["semantic"]).size >= 3  # a map of one class could not show a mismatch
    assert diff <= LOGITS * scale and agree >= PIXELS


def test_runtime_semantic_path_reads_the_graph(tmp_path: Path) -> None:
    """`edgeseg run my_lraspp.onnx`'s adapter: a semantic map at the frame size from the label output,
    through the same letterboxing a camera frame of another size gets."""
    arch = "lraspp_mobilenet_v3_large"
    loaded, info = through_checkpoint(arch, reference(arch), tmp_path)
    deploy = wrap(loaded, info, "edgeseg", FRAME_HW)
    metadata = deploy_metadata(deploy, info, "edgeseg")
    graph = export_deploy(deploy, tmp_path / "lraspp.onnx", metadata, batch="1")
    adapter = DeployAdapter(graph)
    assert adapter.info.task == "semantic" and adapter.info.outputs == ["semantic"]
    backend = OrtBackend(graph, intra_op_threads=1)
    frame = frames(1, (240, 320))[0]  # letterboxed to 192x256 and mapped back
    feed, box = adapter.preprocess(frame)
    result = FrameResult(0, 240, 320)
    outputs = {k: v[0] for k, v in backend.infer(feed).items()}
    adapter.postprocess(outputs, box, result)
    backend.close()
    assert result.semantic is not None and result.semantic.shape == (240, 320)
    assert set(np.unique(result.semantic)) <= set(range(21))
