"""Numpy post-processing shared by task adapters: mask paste, letterbox undo, heatmap decoding.

It runs on every frame of a video, so the work is numpy over arrays; mask pasting loops over boxes
(tens) but each costs only its box's area. OpenCV is imported lazily, only by the functions that
resize images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LETTERBOX_FILL = 114


def _axis_weights(lo: np.ndarray, hi: np.ndarray, cells: int, limit: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis for every box, over the pixel window the box can touch.

    A mask of `cells` cells spans [lo, hi]; pixel p samples it at its centre p + 0.5, i.e. at cell
    coordinate u = (p + 0.5 - lo) * cells / size - 0.5, with zeros outside the mask (the inverse of
    RoIAlign with aligned=True, and of grid_sample with align_corners=False). The support is
    u in (-1, cells), so the window is widened by one cell on each side.
    Returns start [K], valid [K,N], index0 [K,N], weight0 [K,N], index1 [K,N], weight1 [K,N].
    """
    size = np.maximum(hi - lo, 1e-6)
    cell = size / cells
    start = np.clip(np.floor(lo - cell - 0.5), 0, limit).astype(np.int64)
    stop = np.clip(np.ceil(hi + cell - 0.5) + 1, 0, limit).astype(np.int64)
    stop = np.where(hi > lo, stop, start)  # degenerate boxes paste nothing
    count = int((stop - start).max(initial=0))
    pixels = start[:, None] + np.arange(count)[None, :]
    valid = pixels < stop[:, None]
    u = (pixels + 0.5 - lo[:, None]) / cell[:, None] - 0.5
    i0 = np.floor(u).astype(np.int64)
    frac = (u - i0).astype(np.float32)
    w0 = np.where((i0 >= 0) & (i0 < cells) & valid, 1.0 - frac, 0.0).astype(np.float32)
    w1 = np.where((i0 + 1 >= 0) & (i0 + 1 < cells) & valid, frac, 0.0).astype(np.float32)
    return start, valid, np.clip(i0, 0, cells - 1), w0, np.clip(i0 + 1, 0, cells - 1), w1


@dataclass(frozen=True)
class MaskCrop:
    """One instance's pasted mask, kept at the size of the pixel window its box can touch.

    Frame-sized masks cost K full-frame passes in every consumer; a crop costs its box's area.
    `mask[i, j]` is frame pixel (y0 + i, x0 + j).
    """

    y0: int
    x0: int
    mask: np.ndarray  # [h, w] bool

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y0 + self.mask.shape[0]), slice(self.x0, self.x0 + self.mask.shape[1])

    @classmethod
    def bounding(cls, mask: np.ndarray) -> MaskCrop | None:
        """The crop of a full-frame bool mask to its bounding box; None when it is empty."""
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows) == 0:
            return None
        return cls(int(rows[0]), int(cols[0]), mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def mask_crops(box_masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
               threshold: float = 0.5) -> list[MaskCrop]:
    """Per-box masks [K,Mh,Mw] pasted into their boxes' pixel windows, thresholded: one crop per box.

    Bilinear resampling is separable: per box, one two-tap gather along y ([h,Mw]), then one along x
    ([h,w]), so the cost is the box's own area (no padding to the largest box, and no BLAS call:
    OpenBLAS threads spin for milliseconds on tiny products when the CPU is busy with inference).
    """
    box_masks = np.asarray(box_masks, dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return []
    mh, mw = box_masks.shape[1:]
    ys, vy, iy0, wy0, iy1, wy1 = _axis_weights(boxes[:, 1], boxes[:, 3], mh, height)
    xs, vx, ix0, wx0, ix1, wx1 = _axis_weights(boxes[:, 0], boxes[:, 2], mw, width)
    heights, widths = vy.sum(axis=1), vx.sum(axis=1)
    crops = []
    for k in range(len(boxes)):
        h, w = int(heights[k]), int(widths[k])
        mask = box_masks[k]
        rows = wy0[k, :h, None] * mask[iy0[k, :h]] + wy1[k, :h, None] * mask[iy1[k, :h]]
        probs = wx0[k, None, :w] * rows[:, ix0[k, :w]] + wx1[k, None, :w] * rows[:, ix1[k, :w]]
        crops.append(MaskCrop(int(ys[k]), int(xs[k]), probs >= threshold))
    return crops


def mask_pixels(box_masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
                threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels (instance k, y, x), sorted by k, where pasted per-box masks [K,Mh,Mw] reach `threshold`."""
    parts = [(np.full(len(y), k), y + c.y0, x + c.x0)
             for k, c in enumerate(mask_crops(box_masks, boxes, height, width, threshold))
             for y, x in [np.nonzero(c.mask)]]
    if not parts:
        empty = np.zeros(0, np.intp)
        return empty, empty, empty
    k, y, x = (np.concatenate(v).astype(np.intp) for v in zip(*parts, strict=True))
    return k, y, x


def paste_masks(box_masks: np.ndarray, boxes: np.ndarray, height: int, width: int,
                threshold: float = 0.5) -> np.ndarray:
    """Paste per-box mask probabilities [K,Mh,Mw] into full-frame bool masks [K,H,W].

    A mask cell's value sits at its centre; pixels sample at theirs, bilinearly, zero outside the
    mask (see `_axis_weights`), and a pixel is in the mask when its sample is >= threshold.
    """
    out = np.zeros((len(np.asarray(boxes).reshape(-1, 4)), height, width), dtype=bool)
    for k, crop in enumerate(mask_crops(box_masks, boxes, height, width, threshold)):
        rows, cols = crop.slices
        out[k, rows, cols] = crop.mask
    return out


@dataclass(frozen=True)
class Letterbox:
    """Resize keeping the aspect ratio, then pad to the network size; and the way back.

    Per-axis scales are the rounded resized size over the source size, so undoing is exact.
    """

    src_hw: tuple[int, int]
    dst_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    pad_top: int
    pad_left: int

    @classmethod
    def fit(cls, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> Letterbox:
        scale = min(dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1])
        rh = min(dst_hw[0], max(1, round(src_hw[0] * scale)))
        rw = min(dst_hw[1], max(1, round(src_hw[1] * scale)))
        return cls(tuple(src_hw), tuple(dst_hw), (rh, rw), (dst_hw[0] - rh) // 2,  # type: ignore[arg-type]
                   (dst_hw[1] - rw) // 2)

    @property
    def scale_xy(self) -> tuple[float, float]:
        return self.resized_hw[1] / self.src_hw[1], self.resized_hw[0] / self.src_hw[0]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The network-sized image: resized (bilinear) and padded with grey."""
        import cv2

        resized = cv2.resize(image, (self.resized_hw[1], self.resized_hw[0]), interpolation=cv2.INTER_LINEAR)
        out = np.full((*self.dst_hw, *image.shape[2:]), LETTERBOX_FILL, dtype=image.dtype)
        out[self.pad_top:self.pad_top + self.resized_hw[0],
            self.pad_left:self.pad_left + self.resized_hw[1]] = resized
        return out

    def points_to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Network-pixel (x, y) pairs in the last axis (extra channels kept) to frame pixels."""
        sx, sy = self.scale_xy
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = np.clip((out[..., 0] - self.pad_left) / sx, 0, self.src_hw[1])
        out[..., 1] = np.clip((out[..., 1] - self.pad_top) / sy, 0, self.src_hw[0])
        return out

    def boxes_to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """[K,4] xyxy boxes from network pixels to frame pixels, clipped to the frame."""
        return self.points_to_frame(np.asarray(boxes, dtype=np.float32).reshape(-1, 2, 2)).reshape(-1, 4)

    def map_to_frame(self, label_map: np.ndarray) -> np.ndarray:
        """A network-sized label map (semantic, panoptic ids) cropped and resized (nearest) to the frame."""
        import cv2

        crop = label_map[self.pad_top:self.pad_top + self.resized_hw[0],
                         self.pad_left:self.pad_left + self.resized_hw[1]]
        dtype = crop.dtype
        work = crop.astype(np.int32) if dtype not in (np.uint8, np.uint16, np.int16, np.int32,
                                                      np.float32) else crop
        resized = cv2.resize(work, (self.src_hw[1], self.src_hw[0]), interpolation=cv2.INTER_NEAREST)
        return resized.astype(dtype, copy=False)


def decode_heatmaps(heatmaps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Keypoints [K,J,3] (x, y, score) from per-box heatmaps [K,J,Hh,Wh] (argmax at cell centres).

    The heatmap of a box spans the box like a pasted mask: cell (i, j) has its centre at
    x0 + (j + 0.5) * w / Wh, y0 + (i + 0.5) * h / Hh. The score is the heatmap's peak value.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    num, joints, hh, hw = heatmaps.shape
    flat = heatmaps.reshape(num, joints, hh * hw)
    idx = flat.argmax(axis=2)
    score = np.take_along_axis(flat, idx[..., None], 2)[..., 0]
    iy, ix = np.divmod(idx, hw)
    x0, y0, x1, y1 = (boxes[:, i:i + 1] for i in range(4))
    x = x0 + (ix + 0.5) * (x1 - x0) / hw
    y = y0 + (iy + 0.5) * (y1 - y0) / hh
    return np.stack([x, y, score], axis=2).astype(np.float32)
