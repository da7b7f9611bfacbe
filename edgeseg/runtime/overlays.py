"""Draw results on frames: semantic and panoptic maps, instance masks, boxes with labels, keypoints.

One map per frame: the panoptic map when there is one (its things are the fused instance masks), else
the semantic map; then instance masks (only without a panoptic map), boxes and keypoints. Maps are
coloured through lookup tables in one pass over the frame; instance masks are drawn from box-sized
crops inside the rectangle that holds them, so their cost follows the instances' area, not the
frame's. OpenCV draws only the thin primitives (rectangles, text, skeleton lines). Images are RGB
uint8 and are never modified in place.

Names, colours and the skeleton come from the model's label set (`FrameResult.labels`, or the
`label_set` argument); without one, ids are shown ("class 3") in palette colours and keypoints get
no skeleton: the runtime knows no dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from edgeseg.labels import IDS, LabelSet
from edgeseg.runtime.postprocess import MaskCrop, mask_crops
from edgeseg.runtime.results import FrameResult, Segment

FONT_SCALE = 0.4
# per-instance colour offsets so neighbouring instances of one class stay distinguishable
_JITTER = np.array([[0, 0, 0], [40, -30, 20], [-40, 30, -20], [30, 40, -40], [-30, -40, 40],
                    [50, 10, -10], [-50, -10, 10], [15, -50, 45]], dtype=np.int16)
_KEYPOINT_COLOR = (0, 255, 128)
_SKELETON_COLOR = (255, 128, 0)


def category_color(category_id: int, label_set: LabelSet | None = None) -> tuple[int, int, int]:
    return (label_set or IDS).color_of(category_id)


def category_name(category_id: int, label_set: LabelSet | None = None) -> str:
    return (label_set or IDS).name_of(category_id)


@lru_cache(maxsize=8)
def _semantic_lut(label_set: LabelSet) -> tuple[np.ndarray, int]:
    """[256,3] colour of each semantic index and how many indices have one (the rest stay as is)."""
    colors = label_set.semantic_colors[:255]
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[: len(colors)] = np.array(colors, dtype=np.uint8).reshape(-1, 3)
    return lut, len(colors)


def instance_colors(classes: np.ndarray, salt: np.ndarray | None = None,
                    label_set: LabelSet | None = None) -> np.ndarray:
    """[K,3] uint8: each instance's class colour shifted by a small per-instance offset."""
    base = np.array([category_color(c, label_set) for c in classes], dtype=np.int16).reshape(-1, 3)
    salt = np.arange(len(base)) if salt is None else salt
    return np.clip(base + _JITTER[np.asarray(salt) % len(_JITTER)], 0, 255).astype(np.uint8)


def _lookup(index: np.ndarray, table: np.ndarray) -> np.ndarray:
    """[H,W,3] uint8 `table[index]` (index in [0, len(table))): OpenCV's byte lookup table when the
    table fits one (a fraction of the cost of numpy's fancy indexing), else numpy's take."""
    if len(table) > 256:
        return np.take(table, index, axis=0)
    import cv2

    lut = np.zeros((256, 1, 3), dtype=np.uint8)
    lut[: len(table), 0] = table
    byte = index.astype(np.uint8, copy=False)
    return cv2.LUT(cv2.merge([byte, byte, byte]), lut)


def _blend(image: np.ndarray, colors: np.ndarray, where: np.ndarray, alpha: float) -> np.ndarray:
    """image with `colors` ([H,W,3]) blended in at `where` ([H,W] bool), rounded to nearest."""
    import cv2

    out = cv2.addWeighted(image, 1.0 - alpha, np.ascontiguousarray(colors, dtype=np.uint8), alpha, 0.0)
    return cv2.copyTo(np.ascontiguousarray(image), np.logical_not(where).view(np.uint8), out)


def _edges(labels: np.ndarray) -> np.ndarray:
    """[H,W] bool: pixels whose right or lower neighbour has another label."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


def draw_semantic(image: np.ndarray, semantic: np.ndarray, alpha: float = 0.45,
                  label_set: LabelSet | None = None) -> np.ndarray:
    """Blend the category colour of every labelled pixel (ignore (255) and indices the label set
    does not have stay as they are)."""
    lut, count = _semantic_lut(label_set or IDS)
    labels = np.asarray(semantic)
    if labels.dtype != np.uint8:  # any other label type: out-of-range labels become "no colour"
        labels = np.where((labels >= 0) & (labels < count), labels, 255).astype(np.uint8)
    return _blend(image, _lookup(labels, lut), labels < count, alpha)


def _segment_index(panoptic: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """[H,W]: the position in `ids` of each pixel's segment id, len(ids) where no segment has it."""
    n = len(ids)
    if n and ids.min() > 0 and ids.max() < 1 << 16:  # edgeseg ids (1..n, 1000 + stuff): one lookup
        lut = np.full(int(ids.max()) + 2, n, dtype=np.int32)
        lut[ids] = np.arange(n, dtype=np.int32)
        return np.take(lut, panoptic, mode="clip")  # ids below 1 and above the largest: no segment
    if n == 0:
        return np.zeros(panoptic.shape, np.int32)
    order = np.argsort(ids)
    pos = np.clip(np.searchsorted(ids[order], panoptic), 0, n - 1)
    return np.where(ids[order][pos] == panoptic, order[pos], n).astype(np.int32)


@lru_cache(maxsize=4)
def _pixel_coords(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pixel as [H,W] int32 grids (reused across frames of one size)."""
    ys, xs = np.indices((height, width), dtype=np.int32)
    ys.flags.writeable = xs.flags.writeable = False
    return ys, xs


def _centroids(index: np.ndarray, count: int, stride: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampled pixel count, mean x and mean y of each label 0..count-1 of an [H,W] label map.

    Only for placing text, so every `stride`-th pixel of every `stride`-th row is enough (the mean
    moves by a pixel or two; 1/16 of the work with the default); integer histograms of (label, row)
    and (label, column) are cheaper than float-weighted ones.
    """
    first = stride // 2
    sample = index[first::stride, first::stride].astype(np.int32)
    height, width = sample.shape
    ys, xs = _pixel_coords(height, width)
    per_row = np.bincount((sample * height + ys).ravel(), minlength=count * height)[: count * height]
    per_col = np.bincount((sample * width + xs).ravel(), minlength=count * width)[: count * width]
    per_row, per_col = per_row.reshape(count, height), per_col.reshape(count, width)
    counts = per_row.sum(axis=1)
    safe = np.maximum(counts, 1)
    cx = first + stride * (per_col @ np.arange(width)) / safe
    cy = first + stride * (per_row @ np.arange(height)) / safe
    return counts, cx, cy


def draw_panoptic(image: np.ndarray, panoptic: np.ndarray, segments: list[Segment], alpha: float = 0.5,
                  labels: bool = True, label_set: LabelSet | None = None) -> np.ndarray:
    """Stuff in its category colour with its name at the centroid, things in per-instance colours,
    dark outlines between segments; ids without a segment (0 = void) are left untouched."""
    ids = np.asarray([s.id for s in segments], dtype=np.int64)
    n = len(ids)
    colors = np.zeros((n + 1, 3), dtype=np.uint8)  # the last row: pixels without a segment
    colors[:n] = np.array([category_color(s.category_id, label_set) for s in segments],
                          dtype=np.uint8).reshape(-1, 3)
    things = np.array([s.isthing for s in segments], dtype=bool)
    if things.any():
        classes = np.array([s.category_id for s in segments])[things]
        colors[:n][things] = instance_colors(classes, salt=ids[things], label_set=label_set)
    index = _segment_index(np.asarray(panoptic), ids)
    if n < 256:
        index = index.astype(np.uint8)  # bytes: a quarter of the memory for every pass below
    known = index < n
    out = _blend(image, _lookup(index, colors), known, alpha)
    out[_edges(index)] = (20, 20, 20)
    stuff = [k for k, seg in enumerate(segments) if not seg.isthing]
    if labels and stuff:
        counts, cx, cy = _centroids(index, n + 1)
        for k in stuff:
            if counts[k] > 0:
                _label(out, category_name(segments[k].category_id, label_set), int(cx[k]), int(cy[k]),
                       (40, 40, 40), centered=True)
    return out


def draw_masks(image: np.ndarray, masks: np.ndarray, colors: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Instance masks [K,H,W]: later instances paint over earlier ones; outlines in a darker shade."""
    crops = [MaskCrop.bounding(mask) for mask in np.asarray(masks, dtype=bool)]
    return draw_mask_crops(image, crops, colors, alpha)


def draw_mask_crops(image: np.ndarray, crops: Sequence[MaskCrop | None], colors: np.ndarray,
                    alpha: float = 0.5) -> np.ndarray:
    """Instance masks as box crops (postprocess.mask_crops; None = nothing to draw), coloured
    `colors[k]`: later instances paint over earlier ones; outlines in a darker shade.

    All work happens inside the rectangle that holds every crop (plus one row and column, so
    outlines at its edge are the same as over the whole frame).
    """
    out = image.copy()
    present = [(k, c) for k, c in enumerate(crops) if c is not None and c.mask.size]
    if not present:
        return out
    height, width = image.shape[:2]
    y0, x0 = min(c.y0 for _, c in present), min(c.x0 for _, c in present)
    y1 = min(height, max(c.y0 + c.mask.shape[0] for _, c in present) + 1)
    x1 = min(width, max(c.x0 + c.mask.shape[1] for _, c in present) + 1)
    # owner: 0 = no instance, k + 1 = instance k (bytes while they suffice: less memory to scan)
    owner = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8 if len(crops) < 256 else np.int32)
    for k, crop in present:  # in order, so the last instance covering a pixel owns it
        h, w = crop.mask.shape
        owner[crop.y0 - y0:crop.y0 - y0 + h, crop.x0 - x0:crop.x0 - x0 + w][crop.mask] = k + 1
    covered = owner > 0
    table = np.concatenate([np.zeros((1, 3), np.uint8), np.asarray(colors, np.uint8).reshape(-1, 3)])
    region = np.ascontiguousarray(out[y0:y1, x0:x1])
    out[y0:y1, x0:x1] = _blend(region, _lookup(owner, table), covered, alpha)
    edge = _edges(owner) & covered
    out[y0:y1, x0:x1][edge] = (table[owner[edge]].astype(np.float32) * 0.6).astype(np.uint8)
    return out


def _label(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int],
           centered: bool = False) -> None:
    """Text on a filled background box, kept inside the image."""
    import cv2

    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, FONT_SCALE, 1)
    if centered:
        x, y = x - tw // 2, y + th // 2
    x = int(min(max(x, 0), max(0, image.shape[1] - tw - 2)))  # scalars: min/max, not np.clip's overhead
    y = int(min(max(y, th + base), image.shape[0] - 1))
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y), color, thickness=-1)
    light = sum(color) > 3 * 140
    cv2.putText(image, text, (x + 1, y - base), cv2.FONT_HERSHEY_SIMPLEX, FONT_SCALE,
                (0, 0, 0) if light else (255, 255, 255), 1, cv2.LINE_AA)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray | None, scores: np.ndarray | None,
               colors: np.ndarray, label_set: LabelSet | None = None) -> np.ndarray:
    """Rectangles with "name 0.87" labels above them."""
    import cv2

    out = image.copy()
    for k, box in enumerate(np.rint(boxes).astype(np.int32)):
        color = tuple(int(c) for c in colors[k])
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), color, 2)
        parts = [category_name(classes[k], label_set)] if classes is not None else []
        if scores is not None:
            parts.append(f"{float(scores[k]):.2f}")
        if parts:
            _label(out, " ".join(parts), int(box[0]), int(box[1]) - 1, color)  # type: ignore[arg-type]
    return out


def draw_captions(image: np.ndarray, boxes: np.ndarray, captions: Sequence[str], colors: np.ndarray
                  ) -> np.ndarray:
    """Each phrase on its box's colour, just inside the box's bottom-left corner."""
    out = image.copy()
    for k, (box, text) in enumerate(zip(np.rint(boxes).astype(np.int32), captions, strict=True)):
        if text:
            color = (int(colors[k][0]), int(colors[k][1]), int(colors[k][2]))
            _label(out, text, int(box[0]), int(box[3]) - 1, color)
    return out


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray, threshold: float = 0.05,
                   skeleton: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Skeleton lines (1-based joint pairs, from the label set) between confident joints (one OpenCV
    call for all lines), joints as dots."""
    import cv2

    out = image.copy()
    kps = np.asarray(keypoints, dtype=np.float32)
    kps = kps.reshape(-1, kps.shape[-2], 3)
    pairs = np.array([p for p in skeleton if max(p) <= kps.shape[1]], dtype=np.intp).reshape(-1, 2) - 1
    visible = kps[:, :, 2] > threshold
    both = visible[:, pairs[:, 0]] & visible[:, pairs[:, 1]]
    lines = np.stack([kps[:, pairs[:, 0], :2], kps[:, pairs[:, 1], :2]], axis=2)[both]
    if len(lines):
        cv2.polylines(out, list(np.rint(lines).astype(np.int32)), False, _SKELETON_COLOR, 2, cv2.LINE_AA)
    for x, y in np.rint(kps[visible][:, :2]).astype(np.int32):
        cv2.circle(out, (int(x), int(y)), 3, _KEYPOINT_COLOR, -1, cv2.LINE_AA)
    return out


def render(result: FrameResult, image: np.ndarray | None = None, score_threshold: float = 0.0,
           label_set: LabelSet | None = None) -> np.ndarray:
    """The frame with everything the result holds drawn on it (a new array).

    One map: the panoptic map if there is one (it already shows the fused instance masks and the
    stuff), else the semantic map with the instance masks over it; then boxes, keypoints, and the
    phrases of dense captioning (when there is one per box). Names
    and colours: `label_set`, else the result's (its model's), else ids.
    """
    labels = label_set or result.labels or IDS
    out = result.image if image is None else image
    if out is None:
        raise ValueError("render needs the frame: pass image= or keep result.image")
    out = np.asarray(out, dtype=np.uint8)
    if result.panoptic is not None:
        out = draw_panoptic(out, result.panoptic, result.segments or [], label_set=labels)
    elif result.semantic is not None:
        out = draw_semantic(out, result.semantic, label_set=labels)
    if result.num_instances:
        assert result.boxes is not None
        scores = result.scores if result.scores is not None else np.ones(result.num_instances, np.float32)
        keep = scores >= score_threshold
        classes = result.classes if result.classes is not None else np.zeros(result.num_instances, np.int32)
        colors = instance_colors(classes[keep], label_set=labels)
        if result.panoptic is None and result.box_masks is not None:
            crops = mask_crops(result.box_masks[keep], result.boxes[keep], result.height, result.width,
                               result.mask_threshold)
            out = draw_mask_crops(out, crops, colors)
        elif result.panoptic is None and result.masks is not None:
            out = draw_masks(out, result.masks[keep], colors)
        out = draw_boxes(out, result.boxes[keep], None if result.classes is None else classes[keep],
                         None if result.scores is None else result.scores[keep], colors, labels)
        if result.keypoints is not None:
            out = draw_keypoints(out, result.keypoints[keep], skeleton=labels.skeleton)
        if result.captions is not None and len(result.captions) == result.num_instances:
            phrases = [c for c, k in zip(result.captions, keep, strict=True) if k]
            out = draw_captions(out, result.boxes[keep], phrases, colors)
    elif out is result.image or out is image:
        out = out.copy()
    return out
