"""Video: the live frame iterator and the annotated mp4 clips."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from shapes_testutil import CLIPS, FRAMES, SIZE, load_json, video_available

from edgeseg.data.shapes import iter_clip_frames
from edgeseg.data.video import ClipScene


def test_live_frames_shape_determinism_and_motion() -> None:
    frames = list(iter_clip_frames(3, 72, 96, num_frames=5))
    assert len(frames) == 5
    assert all(f.shape == (72, 96, 3) and f.dtype == np.uint8 for f in frames)
    again = list(iter_clip_frames(3, 72, 96, num_frames=5))
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    assert not np.array_equal(frames[0], frames[4])  # things move and the camera pans
    assert not np.array_equal(frames[0], next(iter_clip_frames(4, 72, 96, num_frames=1)))


def test_live_frames_are_endless_without_a_count() -> None:
    assert len(list(itertools.islice(iter_clip_frames(0, 64, 64), 12))) == 12


def test_things_leave_and_reenter_and_camera_pans() -> None:
    clip = ClipScene(1, 96, 96)
    offsets = {clip.camera(t) for t in range(0, 150, 5)}
    assert min(offsets) == 0 and max(offsets) == clip.pan
    counts = [len(clip.frame(t).things) for t in range(0, 400, 8)]
    assert min(counts) < len(clip.things)  # some thing was out of view (or hidden) at some time


@pytest.mark.skipif(not video_available(), reason="neither PyAV nor OpenCV is installed")
def test_mp4_clip_has_the_requested_frames(shapes_dir: Path) -> None:
    import av

    for k in range(CLIPS):
        with av.open(str(shapes_dir / "videos" / "train" / f"clip_{k}.mp4")) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert len(decoded) == FRAMES
        assert decoded[0].shape == (SIZE, SIZE, 3)


@pytest.mark.skipif(not video_available(), reason="neither PyAV nor OpenCV is installed")
def test_per_frame_annotations(shapes_dir: Path) -> None:
    inst = load_json(shapes_dir, "video_instances_train.json")
    assert len(inst["images"]) == FRAMES * CLIPS
    assert sorted((im["video_id"], im["frame_index"]) for im in inst["images"]) == \
        [(k, t) for k in range(CLIPS) for t in range(FRAMES)]
    for ann in inst["annotations"]:
        mask = mask_utils.decode(ann["segmentation"])
        assert ann["area"] == int(mask.sum()) > 0
    for name in ("video_instances_train.json", "video_person_keypoints_train.json"):
        COCO(str(shapes_dir / "annotations" / name))
    pan = load_json(shapes_dir, "video_panoptic_train.json")
    pngs = shapes_dir / "panoptic" / "video_train"
    assert all((pngs / a["file_name"]).is_file() for a in pan["annotations"])
