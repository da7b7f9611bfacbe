"""Draw results on frames: semantic and panoptic maps, instance masks, boxes with labels, keypoints.

Colour work is vectorised numpy over the whole frame (lookup tables indexed by label or owner maps),
so cost does not grow with a Python loop over pixels or instances; OpenCV draws only the thin
primitives (rectangles, text, skeleton lines). Images are RGB uint8 and are never modified in place.
"""
from __future__ import annotations

import numpy as np

from edgeseg.data.categories import CATEGORIES, CATEGORY_BY_ID, SKELETON
from edgeseg.runtime.postprocess import mask_pixels
from edgeseg.runtime.results import FrameResult, Segment

FONT_SCALE = 0.4
# per-instance colour offsets so neighbouring instances of one class stay distinguishable
_JITTER = np.array([[0, 0, 0], [40, -30, 20], [-40, 30, -20], [30, 40, -40], [-30, -40, 40],
                    [50, 10, -10], [-50, -10, 10], [15, -50, 45]], dtype=np.int16)
_SEMANTIC_LUT = np.zeros((256, 3), dtype=np.uint8)
_SEMANTIC_LUT[: len(CATEGORIES)] = [c.color for c in CATEGORIES]
_KEYPOINT_COLOR = (0, 255, 128)
_SKELETON_COLOR = (255, 128, 0)


def category_color(category_id: int) -> tuple[int, int, int]:
    cat = CATEGORY_BY_ID.get(int(category_id))
    return cat.color if cat is not None else (200, 200, 200)


def category_name(category_id: int) -> str:
    cat = CATEGORY_BY_ID.get(int(category_id))
    return cat.name if cat is not None else f"class {int(category_id)}"


def instance_colors(classes: np.ndarray, salt: np.ndarray | None = None) -> np.ndarray:
    """[K,3] uint8: each instance's class colour shifted by a small per-instance offset."""
    base = np.array([category_color(c) for c in classes], dtype=np.int16).reshape(-1, 3)
    salt = np.arange(len(base)) if salt is None else salt
    return np.clip(base + _JITTER[np.asarray(salt) % len(_JITTER)], 0, 255).astype(np.uint8)


def _blend(image: np.ndarray, colors: np.ndarray, where: np.ndarray, alpha: float) -> np.ndarray:
    """image with `colors` ([H,W,3]) blended in at `where` ([H,W] bool), rounded to nearest."""
    import cv2

    mixed = cv2.addWeighted(image, 1.0 - alpha, np.ascontiguousarray(colors, dtype=np.uint8), alpha, 0.0)
    out = image.copy()
    np.copyto(out, mixed, where=where[:, :, None])
    return out


def _edges(labels: np.ndarray) -> np.ndarray:
    """[H,W] bool: pixels whose right or lower neighbour has another label."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return edge


def draw_semantic(image: np.ndarray, semantic: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend the category colour of every labelled pixel (IGNORE_LABEL pixels stay as they are)."""
    labels = np.asarray(semantic).astype(np.intp)
    valid = (labels >= 0) & (labels < len(CATEGORIES))
    return _blend(image, _SEMANTIC_LUT[np.clip(labels, 0, 255)], valid, alpha)


def draw_panoptic(image: np.ndarray, panoptic: np.ndarray, segments: list[Segment], alpha: float = 0.5,
                  labels: bool = True) -> np.ndarray:
    """Stuff in its category colour with its name at the centroid, things in per-instance colours,
    dark outlines between segments; ids without a segment (0 = void) are left untouched."""
    ids = np.asarray([s.id for s in segments], dtype=np.int64)
    colors = np.array([category_color(s.category_id) for s in segments], dtype=np.uint8).reshape(-1, 3)
    things = np.array([s.isthing for s in segments], dtype=bool)
    if things.any():
        classes = np.array([s.category_id for s in segments])[things]
        colors[things] = instance_colors(classes, salt=ids[things])
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], panoptic)
    pos = np.clip(pos, 0, max(len(ids) - 1, 0))
    known = (ids[order][pos] == panoptic) if len(ids) else np.zeros(panoptic.shape, bool)
    seg_index = order[pos] if len(ids) else np.zeros(panoptic.shape, np.intp)
    color_map = colors[seg_index] if len(ids) else np.zeros((*panoptic.shape, 3), np.uint8)
    out = _blend(image, color_map, known, alpha)
    out[_edges(np.where(known, panoptic, -1))] = (20, 20, 20)
    if labels and len(ids):
        flat = np.where(known, seg_index, len(ids)).ravel()
        counts = np.bincount(flat, minlength=len(ids) + 1)[: len(ids)]
        ys, xs = np.divmod(np.arange(flat.size), panoptic.shape[1])
        cy = np.bincount(flat, weights=ys, minlength=len(ids) + 1)[: len(ids)]
        cx = np.bincount(flat, weights=xs, minlength=len(ids) + 1)[: len(ids)]
        for k, seg in enumerate(segments):
            if not seg.isthing and counts[k] > 0:
                _label(out, category_name(seg.category_id), int(cx[k] / counts[k]), int(cy[k] / counts[k]),
                       (40, 40, 40), centered=True)
    return out


def draw_masks(image: np.ndarray, masks: np.ndarray, colors: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Instance masks [K,H,W]: later instances paint over earlier ones; outlines in a darker shade."""
    k, y, x = np.nonzero(masks)
    return draw_mask_pixels(image, k, y, x, colors, alpha)


def draw_mask_pixels(image: np.ndarray, k: np.ndarray, y: np.ndarray, x: np.ndarray, colors: np.ndarray,
                     alpha: float = 0.5) -> np.ndarray:
    """Instance masks as pixel lists (instance k, y, x), e.g. from postprocess.mask_pixels."""
    height, width = image.shape[:2]
    if len(k) == 0:
        return image.copy()
    # the owner of a pixel is the last instance covering it: first occurrence in the reversed list;
    # colour work then touches only covered pixels, not the whole frame
    flat, first = np.unique((y * width + x)[::-1], return_index=True)
    who = k[::-1][first]
    owner = np.full(height * width, -1, dtype=np.int32)
    owner[flat] = who
    out = image.copy()
    pixels = out.reshape(-1, image.shape[2])
    mixed = pixels[flat].astype(np.float32) * (1 - alpha) + colors[who].astype(np.float32) * alpha
    pixels[flat] = np.rint(mixed).astype(np.uint8)
    edge = np.flatnonzero(_edges(owner.reshape(height, width)))
    edge = edge[owner[edge] >= 0]
    pixels[edge] = (colors[owner[edge]].astype(np.float32) * 0.6).astype(np.uint8)
    return out


def _label(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int],
           centered: bool = False) -> None:
    """Text on a filled background box, kept inside the image."""
    import cv2

    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, FONT_SCALE, 1)
    if centered:
        x, y = x - tw // 2, y + th // 2
    x = int(np.clip(x, 0, max(0, image.shape[1] - tw - 2)))
    y = int(np.clip(y, th + base, image.shape[0] - 1))
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y), color, thickness=-1)
    light = sum(color) > 3 * 140
    cv2.putText(image, text, (x + 1, y - base), cv2.FONT_HERSHEY_SIMPLEX, FONT_SCALE,
                (0, 0, 0) if light else (255, 255, 255), 1, cv2.LINE_AA)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray | None, scores: np.ndarray | None,
               colors: np.ndarray) -> np.ndarray:
    """Rectangles with "name 0.87" labels above them."""
    import cv2

    out = image.copy()
    for k, box in enumerate(np.rint(boxes).astype(np.int32)):
        color = tuple(int(c) for c in colors[k])
        cv2.rectangle(out, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), color, 2)
        parts = [category_name(classes[k])] if classes is not None else []
        if scores is not None:
            parts.append(f"{float(scores[k]):.2f}")
        if parts:
            _label(out, " ".join(parts), int(box[0]), int(box[1]) - 1, color)  # type: ignore[arg-type]
    return out


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """COCO skeleton lines between confident joints (one OpenCV call for all lines), joints as dots."""
    import cv2

    out = image.copy()
    kps = np.asarray(keypoints, dtype=np.float32).reshape(-1, 17, 3)
    pairs = np.array(SKELETON, dtype=np.intp) - 1  # COCO skeleton is 1-based
    visible = kps[:, :, 2] > threshold
    both = visible[:, pairs[:, 0]] & visible[:, pairs[:, 1]]
    lines = np.stack([kps[:, pairs[:, 0], :2], kps[:, pairs[:, 1], :2]], axis=2)[both]
    if len(lines):
        cv2.polylines(out, list(np.rint(lines).astype(np.int32)), False, _SKELETON_COLOR, 2, cv2.LINE_AA)
    for x, y in np.rint(kps[visible][:, :2]).astype(np.int32):
        cv2.circle(out, (int(x), int(y)), 3, _KEYPOINT_COLOR, -1, cv2.LINE_AA)
    return out


def render(result: FrameResult, image: np.ndarray | None = None, score_threshold: float = 0.0) -> np.ndarray:
    """The frame with everything the result holds drawn on it (a new array)."""
    out = result.image if image is None else image
    if out is None:
        raise ValueError("render needs the frame: pass image= or keep result.image")
    out = np.asarray(out, dtype=np.uint8)
    if result.semantic is not None:
        out = draw_semantic(out, result.semantic)
    if result.panoptic is not None:
        out = draw_panoptic(out, result.panoptic, result.segments or [])
    if result.num_instances:
        assert result.boxes is not None
        scores = result.scores if result.scores is not None else np.ones(result.num_instances, np.float32)
        keep = scores >= score_threshold
        classes = result.classes if result.classes is not None else np.zeros(result.num_instances, np.int32)
        colors = instance_colors(classes[keep])
        if result.masks is not None:
            out = draw_masks(out, result.masks[keep], colors)
        elif result.box_masks is not None:
            k, y, x = mask_pixels(result.box_masks[keep], result.boxes[keep], result.height, result.width,
                                  result.mask_threshold)
            out = draw_mask_pixels(out, k, y, x, colors)
        out = draw_boxes(out, result.boxes[keep], None if result.classes is None else classes[keep],
                         None if result.scores is None else result.scores[keep], colors)
        if result.keypoints is not None:
            out = draw_keypoints(out, result.keypoints[keep])
    elif out is result.image:
        out = out.copy()
    return out
