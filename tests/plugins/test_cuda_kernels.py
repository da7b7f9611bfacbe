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



# --- adversarial cases (issue 15): signed zeros, NaN, exact ties, uneven batches, the candidate cap ---


def disjoint_boxes(batch: int, n: int) -> np.ndarray:
    """Boxes that never overlap, so only the order (not the IoU) decides what is kept."""
    x = np.arange(n, dtype=np.float32)[:, None] * 20
    one = np.concatenate([x, x * 0, x + 10, x * 0 + 10], axis=1)
    return np.broadcast_to(one, (batch, n, 4)).copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nms_signed_zero_scores_tie_by_key(kernels: Kernels, dtype: type) -> None:
    """-0.0 and +0.0 are equal scores: the key (n * C + c) orders them, on the GPU as on the CPU."""
    scores = np.array([[[-0.0], [0.0], [-0.0], [0.0], [0.5], [-0.0]]], dtype)
    boxes = disjoint_boxes(1, 6).astype(dtype)
    p = fields("nms", score_threshold=-1.0, max_detections=6)
    got = kernels.nms(boxes, scores, **p)
    assert_nms_equal(got, cpu.nms(boxes, scores, **p))
    assert got[3][0].tolist() == [4, 0, 1, 2, 3, 5]


def test_nms_nan_scores_never_pass(kernels: Kernels) -> None:
    rng = np.random.default_rng(7)
    boxes, scores = nms_inputs(rng, 2, 200, 3, False, True)
    scores[rng.uniform(size=scores.shape) < 0.3] = np.nan
    p = fields("nms", score_threshold=-1.0, max_detections=150)
    got = kernels.nms(boxes, scores, **p)
    assert_nms_equal(got, cpu.nms(boxes, scores, **p))
    assert not np.isnan(got[1]).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nms_all_scores_equal(kernels: Kernels, dtype: type) -> None:
    """Every candidate ties: the order is the key alone, so the kept indices ascend."""
    boxes, _ = nms_inputs(np.random.default_rng(8), 2, 300, 4, True, False)
    scores = np.full((2, 300, 4), 0.5, dtype)
    p = fields("nms", max_detections=200, iou_threshold=0.3)
    assert_nms_equal(kernels.nms(boxes.astype(dtype), scores, **p), cpu.nms(boxes.astype(dtype), scores, **p))


def test_nms_uneven_batch(kernels: Kernels) -> None:
    """Images with no, few, exactly K and more than K passing candidates in one batch."""
    rng = np.random.default_rng(9)
    boxes, scores = nms_inputs(rng, 4, 300, 5, False, True)
    scores[0] *= 0.0  # none pass
    scores[1] *= 0.0
    scores[1, :3, 0] = [0.9, 0.8, 0.7]  # three
    scores[2] *= 0.0
    scores[2, :, 1] = np.linspace(0.2, 0.9, 300)  # many, one class
    p = fields("nms", max_detections=50, score_threshold=0.1)
    got = kernels.nms(boxes, scores, **p)
    assert_nms_equal(got, cpu.nms(boxes, scores, **p))
    assert got[4][0] == 0 and got[4][1] == 3


@pytest.mark.parametrize("top_k", [0, 16384])
def test_nms_at_the_candidate_cap(kernels: Kernels, top_k: int) -> None:
    """N * C = 16384 candidates per image, the largest the bitmask allows, with ties, B = 2."""
    boxes, scores = nms_inputs(np.random.default_rng(10), 2, 4096, 4, False, True)
    p = fields("nms", pre_nms_top_k=top_k, max_detections=300, score_threshold=0.0, iou_threshold=0.5)
    assert_nms_equal(kernels.nms(boxes, scores, **p), cpu.nms(boxes, scores, **p))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_roi_align_uneven_batch_and_signed_zero_rois(kernels: Kernels, dtype: type) -> None:
    """B = 3 with 0, 1 and many RoIs per image (image 0 has none); RoI corners at -0.0 and +0.0."""
    rng = np.random.default_rng(11)
    feats, rois, _, scales = fpn_inputs(rng, dtype, num_rois=60)
    feats = [np.concatenate([f, f[:1]], axis=0) for f in feats]  # batch 3
    idx = np.array([1] + [2] * 59, np.int32)
    rois[:5, :2] = -0.0
    rois[5:10, :2] = 0.0
    p = fields("roi_align", spatial_scales=scales, sampling_ratio=0, aligned=1)
    want = cpu.roi_align(feats, rois, idx, **p).astype(np.float32)
    got = kernels.roi_align(feats, rois, idx, **p).astype(np.float32)
    tol = FP32_TOL if dtype == np.float32 else FP16_ULP * np.maximum(1.0, np.abs(want))
    assert np.all(np.abs(got - want) <= tol)


def test_roi_align_matches_torchvision_cuda(kernels: Kernels) -> None:
    """One level, aligned, fixed sampling: torchvision's CUDA roi_align computes the same bins."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    rng = np.random.default_rng(12)
    feat = rng.standard_normal((2, 8, 40, 40)).astype(np.float32)
    xy = rng.uniform(0, 140, (64, 2))
    rois = np.concatenate([xy, xy + rng.uniform(1, 60, (64, 2))], axis=1).astype(np.float32)
    idx = rng.integers(0, 2, 64).astype(np.int32)
    p = fields("roi_align", spatial_scales=[0.25], sampling_ratio=2, aligned=1)
    got = kernels.roi_align([feat], rois, idx, **p)
    boxes = torch.from_numpy(np.concatenate([idx[:, None].astype(np.float32), rois], axis=1)).cuda()
    want = tv.ops.roi_align(torch.from_numpy(feat).cuda(), boxes, (7, 7), 0.25, 2, True).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_nms_matches_torchvision_cuda(kernels: Kernels) -> None:
    """Distinct scores, all candidates: the kept set of torchvision's CUDA batched_nms, in order."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    boxes, scores = nms_inputs(np.random.default_rng(13), 1, 500, 3, False, False)
    p = fields("nms", pre_nms_top_k=0, max_detections=1500, score_threshold=0.0, iou_threshold=0.5)
    _, _, classes, indices, count = kernels.nms(boxes, scores, **p)
    flat = torch.from_numpy(scores[0].reshape(-1)).cuda()
    labels = torch.arange(3).repeat(500).cuda()
    per_box = torch.from_numpy(np.repeat(boxes[0], 3, axis=0)).cuda()
    keep = tv.ops.batched_nms(per_box, flat, labels, 0.5).cpu().numpy()
    k = int(count[0])
    assert k == len(keep)
    assert (indices[0, :k] * 3 + classes[0, :k]).tolist() == keep.tolist()
