"""The plugins' type and shape rules (plugins/<op>/<op>_rules.h), compiled with g++ and run here.

Why: TensorRT 10.x's weakly typed FP16 build (builder flag) takes each plugin tensor's type from
what supportsFormatCombination allows, so these rules decide whether RoIs, boxes and scores can
become float16 in an engine. The plugins call these functions; no TensorRT or GPU is needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.ops import cpu

REPO = Path(__file__).resolve().parents[2]
F32, F16, I32, OTHER = 0, 1, 2, 3


@pytest.fixture(scope="module")
def printer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    exe = tmp_path_factory.mktemp("rules") / "rules"
    src = Path(__file__).with_name("plugin_rules_printer.cpp")
    cmd = [
        cxx,
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        str(REPO / "plugins"),
        str(src),
        "-o",
        str(exe),
    ]
    subprocess.run(cmd, check=True)
    return exe


def run(exe: Path, *args: object) -> list[dict]:
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def allowed(rows: list[dict], **where: int) -> set[int]:
    """The types accepted at one position (for the given first-level type where it matters)."""
    return {r["type"] for r in rows if r["ok"] and all(r[k] == v for k, v in where.items())}


@pytest.mark.parametrize("levels", [1, 3])
def test_roi_align_rois_stay_float32_while_features_may_be_half(printer: Path, levels: int) -> None:
    rows = [r for r in run(printer, "types") if r["op"] == "roi_align" and r["levels"] == levels]
    for first in (F32, F16):
        assert allowed(rows, pos=0, first=first) == {F32, F16}
        for level in range(1, levels):
            assert allowed(rows, pos=level, first=first) == {first}  # every level alike
        assert allowed(rows, pos=levels, first=first) == {F32}  # rois
        assert allowed(rows, pos=levels + 1, first=first) == {I32}  # batch_idx
        assert allowed(rows, pos=levels + 2, first=first) == {first}  # pooled follows the features


def test_nms_boxes_and_scores_stay_float32(printer: Path) -> None:
    rows = [r for r in run(printer, "types") if r["op"] == "nms"]
    names = ["boxes", "scores", "det_boxes", "det_scores", "det_classes", "det_indices", "num_detections"]
    got = {name: allowed(rows, pos=pos) for pos, name in enumerate(names)}
    assert got == {name: ({F32} if pos <= 3 else {I32}) for pos, name in enumerate(names)}


@pytest.mark.parametrize(
    "scales, ok",
    [
        ([0.25], True),
        ([0.25, 0.125, 0.0625, 0.03125], True),
        ([1.0, 0.5], True),
        ([0.25, 0.25], False),  # same scale twice: the level lookup would skip a level
        ([0.25, 0.0625], False),  # a level missing
        ([0.125, 0.25], False),  # coarsest first
        ([0.25, 0.125, 0.0625, 0.03], False),
    ],
)
def test_roi_align_spatial_scales_must_halve(printer: Path, scales: list[float], ok: bool) -> None:
    [row] = run(printer, "fields", *scales)
    assert (row["error"] == "") is ok, row
    if not ok:
        assert "halve level by level" in row["error"]


@pytest.mark.parametrize(
    "scales, ok", [([0.25, 0.125, 0.0625], True), ([0.25, 0.25], False), ([0.125, 0.25], False)]
)
def test_cpu_twin_agrees_on_spatial_scales(printer: Path, scales: list[float], ok: bool) -> None:
    """edgeseg.ops.cpu (the Python-side check) accepts exactly what the plugin's check_fields accepts."""
    [row] = run(printer, "fields", *scales)
    assert (row["error"] == "") is ok
    feats = [np.zeros((1, 2, int(64 * s), int(64 * s)), np.float32) for s in scales]
    rois, idx = np.array([[0, 0, 8, 8]], np.float32), np.zeros(1, np.int32)
    if ok:
        assert cpu.roi_align(feats, rois, idx, spatial_scales=scales).shape == (1, 2, 7, 7)
    else:
        with pytest.raises(EdgesegError, match="halve level by level"):
            cpu.roi_align(feats, rois, idx, spatial_scales=scales)


@pytest.mark.parametrize(
    "rois, idx, ok", [(5, 5, True), (5, 4, False), (5, 6, False), (0, 0, True), (-1, 5, True)]
)
def test_roi_align_batch_idx_needs_one_entry_per_roi(printer: Path, rois: int, idx: int, ok: bool) -> None:
    """onShapeChange/configurePlugin: the kernel reads batch_idx[r] for every RoI r (-1 = not known yet)."""
    [row] = run(printer, "shapes", rois, idx)
    assert (row["error"] == "") is ok, row
    if not ok:
        assert f"batch_idx has {idx} entries for {rois} RoIs" in row["error"]
