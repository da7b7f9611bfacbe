"""Test doubles for the pipeline: a numpy backend and a task adapter that carry each frame's id through.

Frame i of `numbered_frames` stores i in its first pixel; the backend reads it back per batch item, so
a result whose decoded number differs from its frame_id proves frames were mixed up or reordered.
"""
from __future__ import annotations

import time
from concurrent.futures import Future

import numpy as np

from edgeseg.runtime.backend import TensorSpec


def numbered_frame(i: int, size: int = 8) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[0, 0] = (i // 65536, (i // 256) % 256, i % 256)
    return image


def numbered_frames(count: int, size: int = 8):
    for i in range(count):
        yield numbered_frame(i, size)


class NumberBackend:
    """Reads each batch item's number from its first pixel; optionally slow, optionally failing."""

    name = "numpy-test"

    def __init__(self, delay_s: float = 0.0, fixed_batch: int | None = None, fail_at_call: int | None = None):
        self.delay_s, self.fixed_batch, self.fail_at_call = delay_s, fixed_batch, fail_at_call
        self.batch_sizes: list[int] = []
        self.closed = False

    def inputs(self):
        return [TensorSpec("image", (self.fixed_batch, None, None, 3), np.dtype(np.float32))]

    def outputs(self):
        return [TensorSpec("number", (self.fixed_batch,), np.dtype(np.float32))]

    def infer(self, batch):
        if self.fail_at_call is not None and len(self.batch_sizes) == self.fail_at_call:
            raise ValueError("injected backend failure")
        image = batch["image"]
        self.batch_sizes.append(len(image))
        if self.delay_s:
            time.sleep(self.delay_s)
        pixel = image[:, 0, 0, :].astype(np.int64)
        return {"number": (pixel[:, 0] * 65536 + pixel[:, 1] * 256 + pixel[:, 2]).astype(np.float32)}

    def infer_async(self, batch):
        future: Future = Future()
        future.set_result(self.infer(batch))
        return future

    def close(self):
        self.closed = True


class NumberAdapter:
    """Frame -> float tensor; output number -> one box whose score is the decoded frame number."""

    def preprocess(self, image):
        return {"image": image[None].astype(np.float32)}, image.shape[:2]

    def postprocess(self, outputs, meta, result):
        assert meta == (result.height, result.width)
        result.boxes = np.array([[1, 1, 5, 5]], np.float32)
        result.classes = np.array([1], np.int32)
        result.scores = np.array([outputs["number"]], np.float32)


def known_result():
    """A hand-made 96x128 frame with two instances (box masks, keypoints), semantic and panoptic maps."""
    from edgeseg.labels import SHAPESWORLD
    from edgeseg.runtime.results import FrameResult, Segment

    height, width = 96, 128
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([xx * 2, yy * 2, np.full_like(xx, 90)], axis=2).astype(np.uint8)
    semantic = np.where(yy < 40, 0 + 5, 6).astype(np.uint8)  # sky above grass (indices into CATEGORIES)
    semantic[:, :8] = 255  # ignored strip
    panoptic = np.where(yy < 40, 1, 2).astype(np.int32)
    panoptic[20:60, 30:70] = 3
    panoptic[50:90, 80:120] = 4
    segments = [Segment(1, 6, False), Segment(2, 7, False), Segment(3, 1, True), Segment(4, 5, True)]
    box_masks = np.zeros((2, 28, 28), np.float32)
    cy, cx = np.mgrid[0:28, 0:28]
    box_masks[0] = ((cy - 13.5) ** 2 + (cx - 13.5) ** 2 < 13**2).astype(np.float32)  # a disc
    box_masks[1, 4:24, 8:20] = 1.0  # a bar
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[1, :, 0] = np.linspace(85, 115, 17)
    keypoints[1, :, 1] = np.linspace(55, 88, 17)
    keypoints[1, :, 2] = 1.0
    keypoints[1, 3, 2] = 0.0  # an invisible joint
    return FrameResult(7, height, width, image=image, boxes=np.array([[30, 20, 70, 60], [80, 50, 120, 90]]),
                       classes=np.array([1, 5]), scores=np.array([0.91, 0.66]), box_masks=box_masks,
                       keypoints=keypoints, semantic=semantic, panoptic=panoptic, segments=segments,
                       captions=["a red circle beside a person"], labels=SHAPESWORLD)
