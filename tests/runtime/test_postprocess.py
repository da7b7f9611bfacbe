"""Mask paste, letterbox undo and heatmap decoding against naive references and hand-computed cases."""
import numpy as np
import pytest

from edgeseg.runtime.postprocess import Letterbox, decode_heatmaps, paste_masks


def naive_paste_probs(mask: np.ndarray, box: np.ndarray, height: int, width: int) -> np.ndarray:
    """One box, one pixel at a time: sample the mask at the pixel centre, bilinear, zeros outside."""
    mh, mw = mask.shape
    x0, y0, x1, y1 = (float(v) for v in box)
    out = np.zeros((height, width), dtype=np.float64)

    def at(i: int, j: int) -> float:
        return float(mask[i, j]) if 0 <= i < mh and 0 <= j < mw else 0.0

    for py in range(height):
        v = (py + 0.5 - y0) * mh / (y1 - y0) - 0.5
        i = int(np.floor(v))
        fy = v - i
        for px in range(width):
            u = (px + 0.5 - x0) * mw / (x1 - x0) - 0.5
            j = int(np.floor(u))
            fx = u - j
            out[py, px] = ((1 - fy) * ((1 - fx) * at(i, j) + fx * at(i, j + 1))
                           + fy * ((1 - fx) * at(i + 1, j) + fx * at(i + 1, j + 1)))
    return out


def random_boxes(rng: np.random.Generator, num: int, height: int, width: int) -> np.ndarray:
    x0 = rng.uniform(-10, width - 2, num)
    y0 = rng.uniform(-10, height - 2, num)
    return np.stack([x0, y0, x0 + rng.uniform(0.5, width * 0.8, num),
                     y0 + rng.uniform(0.5, height * 0.8, num)], axis=1).astype(np.float32)


@pytest.mark.parametrize("seed,mask_size", [(0, 28), (1, 14), (2, 7)])
def test_paste_matches_naive_loop(seed, mask_size):
    # Tolerance: the vectorised and naive probabilities agree to 1e-5, so a pixel may only differ
    # where the reference probability lies within 1e-5 of the threshold (a border pixel).
    rng = np.random.default_rng(seed)
    height, width, num = 37, 53, 9
    boxes = random_boxes(rng, num, height, width)
    boxes[0] = [3.2, 4.7, 30.1, 20.4]  # fully inside
    boxes[1] = [-20.0, -15.0, 80.0, 60.0]  # larger than the frame
    probs = rng.uniform(0, 1, (num, mask_size, mask_size)).astype(np.float32)
    got = paste_masks(probs, boxes, height, width, threshold=0.5)
    assert got.shape == (num, height, width) and got.dtype == bool
    for k in range(num):
        ref = naive_paste_probs(probs[k], boxes[k], height, width)
        differ = got[k] != (ref >= 0.5)
        assert np.all(np.abs(ref[differ] - 0.5) < 1e-5), f"box {k}: {differ.sum()} pixels differ"
        assert got[k].sum() > 0 or (ref >= 0.5).sum() == 0


def test_paste_hand_computed_full_box():
    # A 2x2 all-ones mask on box (2,2)-(6,6): pixel 2 samples u = (2.5-2)*2/4-0.5 = -0.25 -> 0.75 >= 0.5;
    # pixel 1 samples u = -0.75 -> 0.25 < 0.5; pixel 5 samples u = 1.25 -> 0.75; pixel 6 -> 0.25.
    out = paste_masks(np.ones((1, 2, 2), np.float32), np.array([[2, 2, 6, 6]], np.float32), 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(out[0], expected)


def test_paste_empty_and_degenerate():
    assert paste_masks(np.zeros((0, 28, 28), np.float32), np.zeros((0, 4)), 5, 6).shape == (0, 5, 6)
    out = paste_masks(np.ones((1, 28, 28), np.float32), np.array([[3, 3, 3, 9]], np.float32), 10, 10)
    assert not out.any()


def test_letterbox_hand_computed():
    lb = Letterbox.fit((480, 640), (320, 320))
    assert lb.resized_hw == (240, 320) and lb.pad_top == 40 and lb.pad_left == 0
    boxes = lb.boxes_to_frame(np.array([[0, 40, 160, 160]], np.float32))
    np.testing.assert_allclose(boxes, [[0, 0, 320, 240]], atol=1e-4)
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, 320:] = 200
    net = lb.apply(image)
    assert net.shape == (320, 320, 3)
    assert (net[:40] == 114).all() and (net[280:] == 114).all()
    assert (net[100, 200] == 200).all() and (net[100, 100] == 0).all()


def test_letterbox_map_roundtrip():
    lb = Letterbox.fit((30, 50), (64, 64))
    assert lb.resized_hw == (38, 64) and lb.pad_top == 13  # scale 1.28, hand-computed
    frame_map = np.zeros((30, 50), np.uint8)
    frame_map[:, 25:] = 3
    net_map = np.full((64, 64), 255, np.uint8)  # padding must never reach the frame
    net_map[13:51, :32] = 0
    net_map[13:51, 32:] = 3  # network column 32 is frame x = 32 / 1.28 = 25
    back = lb.map_to_frame(net_map)
    assert back.shape == (30, 50) and back.dtype == np.uint8
    # nearest resampling may move the class edge by at most one column (30 pixels)
    assert (back != frame_map).sum() <= 30


def test_decode_heatmaps_matches_naive():
    rng = np.random.default_rng(0)
    heat = rng.uniform(0, 1, (3, 17, 56, 56)).astype(np.float32)
    boxes = np.array([[0, 0, 56, 56], [10, 20, 38, 48], [5.5, 1.5, 117.5, 57.5]], np.float32)
    got = decode_heatmaps(heat, boxes)
    for k in range(3):
        for j in range(17):
            i, jj = np.unravel_index(np.argmax(heat[k, j]), heat[k, j].shape)
            w, h = boxes[k, 2] - boxes[k, 0], boxes[k, 3] - boxes[k, 1]
            np.testing.assert_allclose(got[k, j], [boxes[k, 0] + (jj + 0.5) * w / 56,
                                                   boxes[k, 1] + (i + 0.5) * h / 56, heat[k, j, i, jj]],
                                       rtol=1e-5, atol=1e-4)


def test_mask_pixels_and_crops_agree_with_the_pasted_masks():
    from edgeseg.runtime.postprocess import mask_crops, mask_pixels

    rng = np.random.default_rng(4)
    height, width, num = 41, 57, 11
    boxes = random_boxes(rng, num, height, width)
    probs = rng.uniform(0, 1, (num, 14, 14)).astype(np.float32)
    full = paste_masks(probs, boxes, height, width)
    k, y, x = mask_pixels(probs, boxes, height, width)
    np.testing.assert_array_equal(np.stack([k, y, x]), np.stack(np.nonzero(full)))
    for i, crop in enumerate(mask_crops(probs, boxes, height, width)):
        assert crop.y0 >= 0 and crop.y0 + crop.mask.shape[0] <= height
        assert crop.x0 >= 0 and crop.x0 + crop.mask.shape[1] <= width
        outside = full[i].copy()
        outside[crop.slices] = False
        assert not outside.any()  # the crop's window holds every pixel of the mask
