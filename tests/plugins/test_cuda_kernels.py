"""CUDA kernels == CPU twin (edgeseg._C), through the ctypes harness. Needs an NVIDIA GPU.

Tolerances: float32 RoIAlign 1e-5 absolute (same _math.h, kernels built with -fmad=false; only
libm vs CUDA log2f/sqrtf could differ). float16: both compute in float32 from the same half
inputs and round once, so outputs may differ by one half ulp: |gpu - cpu| <= 2^-10 * max(1, |cpu|).
NMS decisions are compared exactly (same order, tie rule and IoU rounding), in float32 and float16.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from cuda_harness import Kernels, build_library

from edgeseg.ops import cpu
from edgeseg.ops.spec import load_spec

pytestmark = pytest.mark.needs_cuda
FP32_TOL = 1e-5
FP16_ULP = 2.0**-10


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Kernels:
    smi = shutil.which("nvidia-smi")
    if smi is None or subprocess.run([smi], capture_output=True).returncode != 0:
        pytest.skip("no NVIDIA GPU")
    return Kernels(build_library(tmp_path_factory.mktemp("kernels")))


def fpn_inputs(rng: np.random.Generator, dtype: type, num_rois: int = 200) -> tuple:
    scales = [1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64]
    size = 256
    feats = [rng.standard_normal((2, 3, int(size * s), int(size * s))).astype(dtype) for s in scales]
    xy = rng.uniform(-20, size + 20, (num_rois, 2))
    wh = rng.choice([0.0, 0.5, 4.0, 30.0, 120.0, 250.0], (num_rois, 2)) * rng.uniform(0.5, 1.5, (num_rois, 2))
    rois = np.concatenate([xy, xy + wh], axis=1).astype(dtype)
    idx = rng.integers(0, 2, num_rois).astype(np.int32)
    return feats, rois, idx, scales


def fields(op: str, **values: object) -> dict:
    return load_spec(op).resolve(values)


@pytest.mark.parametrize("quantized", [0, 1])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("aligned", [0, 1])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_roi_align_fp32_matches_cpu(
    kernels: Kernels, sampling_ratio: int, aligned: int, mode: int, quantized: int
) -> None:
    feats, rois, idx, scales = fpn_inputs(np.random.default_rng(0), np.float32)
    p = fields(
        "roi_align",
        sampling_ratio=sampling_ratio,
        aligned=aligned,
        mode=mode,
        quantized=quantized,
        spatial_scales=scales,
        output_height=7,
        output_width=5,
    )
    want = cpu.roi_align(feats, rois, idx, **p)
    got = kernels.roi_align(feats, rois, idx, **p)
    np.testing.assert_allclose(got, want, rtol=0, atol=FP32_TOL)


@pytest.mark.parametrize("mode", [0, 1])
def test_roi_align_fp16_matches_cpu(kernels: Kernels, mode: int) -> None:
    feats, rois, idx, scales = fpn_inputs(np.random.default_rng(1), np.float16)
    p = fields("roi_align", mode=mode, sampling_ratio=0, aligned=1, spatial_scales=scales)
    want = cpu.roi_align(feats, rois, idx, **p).astype(np.float32)
    got = kernels.roi_align(feats, rois, idx, **p).astype(np.float32)
    assert got.dtype == np.float32 and np.all(np.abs(got - want) <= FP16_ULP * np.maximum(1.0, np.abs(want)))


def test_roi_align_single_level_and_empty(kernels: Kernels) -> None:
    rng = np.random.default_rng(2)
    feat = rng.standard_normal((1, 4, 16, 16)).astype(np.float32)
    rois = np.array([[0, 0, 15, 15], [3.3, 4.1, 3.3, 9.0], [-30, -30, -20, -20]], np.float32)
    idx = np.zeros(3, np.int32)
    p = fields("roi_align", spatial_scales=[1.0], sampling_ratio=0, output_height=3, output_width=3)
    np.testing.assert_allclose(
        kernels.roi_align([feat], rois, idx, **p),
        cpu.roi_align([feat], rois, idx, **p),
        rtol=0,
        atol=FP32_TOL,
    )
    empty = kernels.roi_align([feat], np.zeros((0, 4), np.float32), np.zeros(0, np.int32), **p)
    assert empty.shape == (0, 4, 3, 3)


def test_roi_align_bad_batch_index_pools_zeros(kernels: Kernels) -> None:
    feat = np.ones((2, 2, 8, 8), np.float32)
    rois = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4]], np.float32)
    out = kernels.roi_align(
        [feat], rois, np.array([1, 2, -1], np.int32), **fields("roi_align", spatial_scales=[1.0])
    )
    np.testing.assert_array_equal(out[0], 1.0)
    np.testing.assert_array_equal(out[1:], 0.0)


def nms_inputs(rng: np.random.Generator, batch: int, n: int, c: int, per_class: bool, ties: bool) -> tuple:
    xy = rng.uniform(0, 500, (batch, n, *((c,) if per_class else ()), 2))
    wh = rng.uniform(5, 80, xy.shape)
    boxes = np.concatenate([xy, xy + wh], axis=-1).astype(np.float32)
    scores = rng.uniform(0, 1, (batch, n, c)).astype(np.float32)
    if ties:  # few distinct scores: the tie rule decides most of the order
        scores = np.round(scores * 4) / 4
    return boxes, scores


def assert_nms_equal(got: tuple, want: tuple) -> None:
    for name, g, w in zip(("boxes", "scores", "classes", "indices", "count"), got, want, strict=True):
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("top_k,max_det", [(0, 100), (50, 10), (1000, 300)])
def test_nms_fp32_matches_cpu(
    kernels: Kernels, per_class: bool, ties: bool, top_k: int, max_det: int
) -> None:
    boxes, scores = nms_inputs(np.random.default_rng(3), 3, 400, 6, per_class, ties)
    p = fields("nms", pre_nms_top_k=top_k, max_detections=max_det, iou_threshold=0.45, score_threshold=0.1)
    assert_nms_equal(kernels.nms(boxes, scores, **p), cpu.nms(boxes, scores, **p))


def test_nms_fp16_matches_cpu(kernels: Kernels) -> None:
    boxes, scores = nms_inputs(np.random.default_rng(4), 2, 300, 4, False, True)
    boxes, scores = boxes.astype(np.float16), scores.astype(np.float16)
    p = fields("nms")
    assert_nms_equal(kernels.nms(boxes, scores, **p), cpu.nms(boxes, scores, **p))


def test_nms_fpn_sized_matches_cpu(kernels: Kernels) -> None:
    boxes, scores = nms_inputs(np.random.default_rng(5), 1, 5000, 80, False, False)
    p = fields("nms", pre_nms_top_k=1000, max_detections=100, score_threshold=0.05)
    assert_nms_equal(kernels.nms(boxes, scores, **p), cpu.nms(boxes, scores, **p))


def test_nms_nothing_passes_is_padded(kernels: Kernels) -> None:
    boxes, scores = nms_inputs(np.random.default_rng(6), 2, 20, 3, False, False)
    det_boxes, det_scores, classes, indices, count = kernels.nms(boxes, scores * 0.01, **fields("nms"))
    np.testing.assert_array_equal(count, [0, 0])
    assert not det_boxes.any() and not det_scores.any()
    np.testing.assert_array_equal(classes, -1)
    np.testing.assert_array_equal(indices, -1)


def test_nms_hand_case(kernels: Kernels) -> None:
    """Two overlapping boxes of class 0 (IoU 0.9) and the same box as class 1: class-aware keeps 3 of 4."""
    boxes = np.array([[[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60]]], np.float32)
    scores = np.array([[[0.9, 0.8], [0.7, 0.0], [0.0, 0.6]]], np.float32)
    _, det_scores, classes, indices, count = kernels.nms(boxes, scores, **fields("nms", max_detections=4))
    assert count.tolist() == [3]
    assert classes[0, :3].tolist() == [0, 1, 1] and indices[0, :3].tolist() == [0, 0, 2]
    np.testing.assert_array_equal(det_scores[0], np.array([0.9, 0.8, 0.6, 0.0], np.float32))

