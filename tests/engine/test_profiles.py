"""Optimization-profile shapes from ONNX input shapes (expected ranges written out by hand)."""

import pytest

from edgeseg.engine.profiles import BatchRange, InputInfo, ShapeRange, profile_shapes
from edgeseg.errors import EdgesegError

IMAGES_DYN = InputInfo("images", ("batch", 3, 320, 320))
IMAGES_FIXED = InputInfo("images", (1, 3, 320, 320))


def test_dynamic_batch_gets_the_requested_range():
    got = profile_shapes([IMAGES_DYN], BatchRange(1, 4, 8))
    assert got == {"images": ShapeRange((1, 3, 320, 320), (4, 3, 320, 320), (8, 3, 320, 320))}


def test_dynamic_batch_defaults_to_one():
    assert profile_shapes([InputInfo("x", (None, 3, 64, 64))]) == {
        "x": ShapeRange((1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    }


def test_static_inputs_need_no_profile():
    assert profile_shapes([IMAGES_FIXED]) == {}
    assert profile_shapes([IMAGES_FIXED], BatchRange(1, 1, 1)) == {}
    assert profile_shapes([InputInfo("scalar", ())]) == {}


def test_fixed_batch_refuses_another_batch_range():
    with pytest.raises(EdgesegError, match="no input of the ONNX graph has a dynamic batch axis"):
        profile_shapes([IMAGES_FIXED], BatchRange(1, 2, 4))


def test_dynamic_image_size_needs_an_explicit_range():
    info = InputInfo("images", ("batch", 3, "height", "width"))
    with pytest.raises(EdgesegError, match="axis 2 is dynamic"):
        profile_shapes([info], BatchRange(1, 1, 2))
    rng = ShapeRange((1, 3, 256, 256), (2, 3, 320, 320), (4, 3, 640, 640))
    assert profile_shapes([info], BatchRange(1, 1, 2), {"images": rng}) == {"images": rng}


def test_override_is_checked_against_the_graph():
    info = InputInfo("images", ("batch", 3, "h", "w"))
    with pytest.raises(EdgesegError, match="rank 4"):
        profile_shapes([info], overrides={"images": ShapeRange((1, 3, 8), (1, 3, 8), (1, 3, 8))})
    with pytest.raises(EdgesegError, match="axis 1 is fixed to 3"):
        profile_shapes([info], overrides={"images": ShapeRange((1, 1, 8, 8), (1, 3, 8, 8), (1, 3, 8, 8))})
    with pytest.raises(EdgesegError, match="min <= opt <= max"):
        profile_shapes([info], overrides={"images": ShapeRange((2, 3, 8, 8), (1, 3, 8, 8), (4, 3, 8, 8))})
    with pytest.raises(EdgesegError, match="unknown input"):
        profile_shapes([info], overrides={"imgs": ShapeRange((1,), (1,), (1,))})


def test_several_inputs_each_get_their_own_profile():
    infos = [IMAGES_DYN, InputInfo("im_info", ("batch", 3)), InputInfo("anchors", (1000, 4))]
    got = profile_shapes(infos, BatchRange(2, 2, 2))
    assert got == {
        "images": ShapeRange((2, 3, 320, 320), (2, 3, 320, 320), (2, 3, 320, 320)),
        "im_info": ShapeRange((2, 3), (2, 3), (2, 3)),
    }


@pytest.mark.parametrize("lo, mid, hi", [(0, 1, 1), (2, 1, 4), (1, 5, 4)])
def test_invalid_batch_ranges(lo, mid, hi):
    with pytest.raises(EdgesegError, match="batch range"):
        BatchRange(lo, mid, hi)
