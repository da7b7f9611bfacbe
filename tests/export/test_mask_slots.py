"""The CPU twin graphs (mask head on filled slots only) agree with the static graphs they stand for.

The zoo's `cpu/<name>.onnx` (mask_slots="valid") must give, on ShapesWorld frames, the same
detections as `<name>.onnx` (boxes within 1e-4 px, identical classes and counts, scores within
1e-5) and, for every filled slot, mask probabilities within 1e-5; empty slots are exactly zero.
The wrapper itself is checked the same way in torch on random weights with spread-out scores.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from export_testutil import build

from edgeseg.data.shapes import render_image
from edgeseg.errors import EdgesegError
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.backends.ort import OrtBackend, cpu_variant

ZOO = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo"
TWINS = sorted(name for name, entry in json.loads((ZOO / "onnx.json").read_text())["models"].items()
               if "cpu" in entry) if (ZOO / "onnx.json").is_file() else []


def assert_same_detections(static: dict[str, np.ndarray], twin: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(twin["num_dets"], static["num_dets"])
    for i, n in enumerate(static["num_dets"]):
        np.testing.assert_array_equal(twin["classes"][i, :n], static["classes"][i, :n])
        np.testing.assert_allclose(twin["boxes"][i, :n], static["boxes"][i, :n], atol=1e-4)
        np.testing.assert_allclose(twin["scores"][i, :n], static["scores"][i, :n], atol=1e-5)
        np.testing.assert_allclose(twin["masks"][i, :n], static["masks"][i, :n], atol=1e-5)
        assert not twin["masks"][i, n:].any(), "empty slots must be zero"


def test_shipped_twins_are_the_mask_models() -> None:
    assert TWINS == ["mask_rcnn", "panoptic_rcnn"]


@pytest.mark.parametrize("name", TWINS)
def test_zoo_cpu_twin_matches_static_graph(name: str) -> None:
    static_path = ZOO / f"{name}.onnx"
    twin_path = cpu_variant(static_path)
    assert twin_path == ZOO / "cpu" / f"{name}.onnx", "the recorded sha256 no longer matches"
    frames = {"images": np.stack([render_image(4, i, 320, "val")[0] for i in range(3)])}
    static = OrtBackend(static_path, intra_op_threads=1).infer(frames)
    twin_backend = OrtBackend(static_path, intra_op_threads=1, cpu_twin=True)
    assert twin_backend.graph == twin_path
    twin = twin_backend.infer(frames)
    assert set(twin) == set(static)
    assert static["num_dets"].sum() > 0 and (static["num_dets"] < static["masks"].shape[1]).all()
    assert_same_detections(static, twin)
    for key in set(static) - {"boxes", "scores", "classes", "num_dets", "masks"}:
        np.testing.assert_allclose(twin[key], static[key], atol=1e-5, err_msg=key)


def test_wrapper_valid_slots_match_fixed_slots_in_torch() -> None:
    model, info = build("mask_rcnn")
    images = torch.from_numpy(np.stack([render_image(4, i, 320, "val")[0] for i in range(2)]))
    names = wrap(model, info, "edgeseg").output_names
    with torch.no_grad():
        fixed = wrap(model, info, "edgeseg")(images)
        valid = wrap(model, info, "edgeseg", mask_slots="valid")(images)
    out_fixed = {n: t.numpy() for n, t in zip(names, fixed, strict=True)}
    out_valid = {n: t.numpy() for n, t in zip(names, valid, strict=True)}
    assert out_fixed["num_dets"].sum() > 0
    assert_same_detections(out_fixed, out_valid)


def test_unknown_mask_slots_is_refused() -> None:
    model, info = build("mask_rcnn")
    with pytest.raises(EdgesegError, match="mask_slots must be"):
        wrap(model, info, "edgeseg", mask_slots="some")
