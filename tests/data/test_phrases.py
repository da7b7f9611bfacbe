"""Region phrases say what the scene drew, fit the fixed vocabulary and its length limit, and repeat."""
from __future__ import annotations

import itertools

import pytest

from edgeseg.data import person
from edgeseg.data.captions import _GROUND, region_captions
from edgeseg.data.categories import CATEGORY_BY_ID, PERSON_ID, THINGS
from edgeseg.data.scene import COLORS
from edgeseg.data.shapes import render_image
from edgeseg.errors import EdgesegError
from edgeseg.vocab import EOS, MAX_TOKENS, PAD, SHAPES_VOCAB


@pytest.fixture(scope="module")
def scenes() -> list:
    out = []
    for i in range(25):
        frame = render_image(3, i, 320)[1]
        areas = [int(m.sum()) for m in frame.masks().transpose(2, 0, 1)] if frame.things else []
        out.append((frame, areas, region_captions(frame, areas)))
    return out


def _expected_shape_phrase(frame, areas: list[int], k: int) -> str:
    """The phrase spelled out from the scene with plain loops: size, colour, shape, nearest thing."""
    thing = frame.things[k]
    size = "small" if areas[k] < 1024 else "medium" if areas[k] < 9216 else "large"
    text = f"{size} {thing.color_name} {CATEGORY_BY_ID[thing.category_id].name}"
    best, nearest = float("inf"), None
    for j, other in enumerate(frame.things):
        d = ((other.cx - thing.cx) ** 2 + (other.cy - thing.cy) ** 2) ** 0.5
        if j != k and d < best:
            best, nearest = d, other
    if nearest is None:
        return text
    dx, dy = nearest.cx - thing.cx, nearest.cy - thing.cy
    horizontal = "left of" if dx > 0 else "right of"
    where = horizontal if abs(dx) >= abs(dy) else "above" if dy > 0 else "below"
    name = CATEGORY_BY_ID[nearest.category_id].name
    return f"{text} {where} a {nearest.color_name} {name}"


def test_phrases_describe_the_scene_that_made_them(scenes: list) -> None:
    seen_person = seen_shape = 0
    for frame, areas, phrases in scenes:
        assert len(phrases) == len(frame.things)
        for k, (thing, phrase) in enumerate(zip(frame.things, phrases, strict=True)):
            if thing.category_id == PERSON_ID:
                seen_person += 1
                assert phrase.startswith(f"person in {thing.color_name} "
                                         f"{person.POSE_PHRASES[thing.pose.name]}")
            else:
                seen_shape += 1
                assert phrase == _expected_shape_phrase(frame, areas, k)
    assert seen_person >= 5 and seen_shape >= 50


def test_person_ground_is_the_stuff_under_the_feet(scenes: list) -> None:
    checked = 0
    for frame, _, phrases in scenes:
        for k, thing in enumerate(frame.things):
            kp = frame.keypoints.get(k)
            if thing.category_id != PERSON_ID or kp is None or not (kp[15:17, 2] > 0).any():
                continue
            feet = kp[15:17][kp[15:17, 2] > 0]
            x, y = feet[:, :2].mean(axis=0)
            ground = CATEGORY_BY_ID[int(frame.stuff[int(y), int(x)])].name
            assert phrases[k].endswith(_GROUND[ground])
            checked += 1
    assert checked >= 3


def test_every_phrase_the_grammar_allows_fits_the_vocabulary() -> None:
    """The longest phrases are enumerated, not sampled: each colour, pose, ground, shape, relation."""
    colors, shapes = list(COLORS), [c.name for c in THINGS]
    phrases = [f"person in {c} {pose} {ground}" for c, pose, ground in
               itertools.product(colors, person.POSE_PHRASES.values(), _GROUND.values())]
    phrases += [f"{s} {c} {n} {rel} a {c2} {n2}" for s, c, n, rel, c2, n2 in itertools.product(
        ("small", "medium", "large"), colors, shapes, ("left of", "right of", "above", "below"),
        colors[:2], shapes)]
    lengths = [len(SHAPES_VOCAB.tokenize(p)) for p in phrases]
    assert max(lengths) <= MAX_TOKENS
    assert len(SHAPES_VOCAB) <= 100


def test_generated_phrases_round_trip_through_token_ids(scenes: list) -> None:
    for _, _, phrases in scenes:
        for phrase in phrases:
            ids = SHAPES_VOCAB.encode(phrase)
            assert len(ids) == MAX_TOKENS + 1 and EOS in ids
            assert SHAPES_VOCAB.detokenize(ids) == phrase


def test_phrases_are_deterministic_per_seed(scenes: list) -> None:
    frame = render_image(3, 0, 320)[1]
    areas = [int(m.sum()) for m in frame.masks().transpose(2, 0, 1)]
    assert region_captions(frame, areas) == scenes[0][2]
    other = render_image(4, 0, 320)[1]
    other_areas = [int(m.sum()) for m in other.masks().transpose(2, 0, 1)]
    assert region_captions(other, other_areas) != scenes[0][2]


def test_vocabulary_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(EdgesegError, match="outside the vocabulary"):
        SHAPES_VOCAB.tokenize("small red hexagon")
    with pytest.raises(EdgesegError, match="at most 10"):
        SHAPES_VOCAB.encode("red " * 11)
    assert SHAPES_VOCAB.detokenize([1, SHAPES_VOCAB.index["red"], EOS, SHAPES_VOCAB.index["star"]]) == "red"
    assert SHAPES_VOCAB.detokenize([PAD]) == ""
    assert SHAPES_VOCAB.detokenize([999]) == "<unk>"
