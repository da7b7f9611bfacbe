"""Ladder step 4: the patched export of every zoo model equals the unpatched one on ONNX Runtime.

The graphs are the zoo's shipped ONNX files (edgeseg/zoo/onnx.json); the inputs are ShapesWorld
validation images, so the detections, masks and keypoints compared are the ones users will see.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeseg.data.shapes import render_image
from edgeseg.surgery.io import load_model, save_model
from edgeseg.surgery.registry import DEFAULT_PASSES, apply

ZOO = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo"


def _zoo_graphs() -> list[Path]:
    index = ZOO / "onnx.json"
    if not index.is_file():
        return []
    return [ZOO / entry["file"] for entry in json.loads(index.read_text())["models"].values()]


GRAPHS = _zoo_graphs()


@pytest.mark.skipif(not GRAPHS, reason="the zoo ships no ONNX graphs (run `edgeseg export --zoo`)")
@pytest.mark.parametrize("src", GRAPHS, ids=lambda p: p.stem)
def test_patched_zoo_export_equals_unpatched(src: Path, tmp_path: Path) -> None:
    from edgeseg.runtime.backends.ort import OrtBackend

    patched, _ = apply(load_model(src), list(DEFAULT_PASSES))
    save_model(patched, tmp_path / "patched.onnx")
    ref_backend = OrtBackend(src, intra_op_threads=1)
    got_backend = OrtBackend(tmp_path / "patched.onnx", intra_op_threads=1)
    (spec,) = ref_backend.inputs()
    height, width = int(spec.shape[1]), int(spec.shape[2])  # type: ignore[arg-type]
    images = [render_image(seed=2, index=i, size=height, split="val")[0] for i in range(2)]
    assert images[0].shape[:2] == (height, width)
    feed = {spec.name: np.stack(images)}
    ref, got = ref_backend.infer(feed), got_backend.infer(feed)
    assert set(got) == set(ref)
    for name, value in ref.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4, err_msg=name)
