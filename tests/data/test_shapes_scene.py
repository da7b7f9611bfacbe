"""Scene content: scale coverage, learnable persons, pose semantics, and render_image's array targets."""
from __future__ import annotations

import numpy as np
import pytest

from edgeseg.data import person
from edgeseg.data.categories import KEYPOINT_NAMES, PERSON_ID, THINGS
from edgeseg.data.shapes import render_image

K = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


@pytest.fixture(scope="module")
def frames() -> list:
    return [render_image(0, i, 320)[1] for i in range(40)]


def test_targets_are_tight_and_disjoint(frames: list) -> None:
    for frame in frames[:10]:
        t = frame.targets()
        n = len(frame.things)
        assert t["masks"].shape == (n, 320, 320) and t["boxes"].shape == (n, 4)
        assert int(t["masks"].sum(axis=0).max()) <= 1
        for mask, box in zip(t["masks"], t["boxes"], strict=True):
            ys, xs = np.nonzero(mask)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        is_person = t["category_ids"] == PERSON_ID
        assert not t["keypoints"][~is_person].any()


def test_all_categories_and_coco_area_ranges_occur(frames: list) -> None:
    cats, areas = set(), []
    for frame in frames:
        t = frame.targets()
        cats |= set(t["category_ids"].tolist())
        areas += t["masks"].reshape(len(t["masks"]), -1).sum(axis=1).tolist()
    assert cats == {c.id for c in THINGS}
    areas_arr = np.array(areas)
    for lo, hi in ((0, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, np.inf)):
        share = np.mean((areas_arr >= lo) & (areas_arr < hi))
        assert share > 0.08, f"area range [{lo}, {hi}) has only {share:.0%} of the instances"


def test_persons_are_mostly_tall_enough_to_learn_keypoints(frames: list) -> None:
    heights = []
    for frame in frames:
        t = frame.targets()
        boxes = t["boxes"][t["category_ids"] == PERSON_ID]
        heights += (boxes[:, 3] - boxes[:, 1]).tolist()
    assert len(heights) >= 10
    assert np.mean(np.array(heights) >= 40) >= 0.7


@pytest.mark.parametrize("pose_name", ["left_arm_up", "right_arm_up", "both_arms_up", "standing"])
def test_pose_keypoints_mean_what_the_caption_says(pose_name: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        kp = person.keypoints(person.sample_pose(rng, pose_name), 100.0, 100.0, 120.0)
        # Facing the camera: the person's left is on the image's right, as in COCO.
        assert kp[K["left_shoulder"], 0] > kp[K["right_shoulder"], 0]
        assert kp[K["left_hip"], 0] > kp[K["right_hip"], 0]
        left_up = kp[K["left_wrist"], 1] < kp[K["nose"], 1]
        right_up = kp[K["right_wrist"], 1] < kp[K["nose"], 1]
        expected = {"left_arm_up": (True, False), "right_arm_up": (False, True),
                    "both_arms_up": (True, True), "standing": (False, False)}[pose_name]
        assert (left_up, right_up) == expected
        assert kp[K["nose"], 1] < kp[K["left_shoulder"], 1] < kp[K["left_hip"], 1] < kp[K["left_ankle"], 1]
        height = kp[:, 1].max() - kp[:, 1].min()
        assert 0.7 * 120 < height < 1.3 * 120
