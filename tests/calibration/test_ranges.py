"""Range collection: thresholds against numpy references, and measured tensors against a torch forward."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from edgeseg.calibration.images import GraphInput, iter_feeds, list_images, read_rgb
from edgeseg.calibration.ranges import NUM_BINS, _TensorStats, collect_ranges, threshold
from edgeseg.errors import EdgesegError


def test_minmax_and_percentile_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3.0, 2.0, size=200_000).astype(np.float32)
    stats = _TensorStats()
    for chunk in np.array_split(x, 7):  # streamed in chunks of growing max: exercises re-binning
        stats.add(np.sort(chunk))
    assert stats.hist.sum() == x.size
    width = stats.edge / NUM_BINS
    r = stats.result("minmax", 99.99)
    assert (r.lo, r.hi) == (pytest.approx(float(x.min())), pytest.approx(float(x.max())))
    assert r.amax == pytest.approx(float(np.abs(x).max()))
    p99 = stats.result("percentile", 99.0).amax
    assert abs(p99 - float(np.percentile(np.abs(x), 99.0))) <= 2 * width + 1e-3
    assert stats.result("percentile", 99.0).lo == pytest.approx(-p99)  # lo/hi clipped to amax


def test_entropy_clips_rare_outliers_but_keeps_the_bulk():
    """A Gaussian with a few huge outliers: KL picks a threshold far below the max and above the bulk."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 500_000), [60.0, -55.0, 58.0]]).astype(np.float32)
    hist, _ = np.histogram(np.abs(x), bins=NUM_BINS, range=(0, 60.0))
    amax = threshold(hist.astype(np.float64), 60.0, "entropy")
    assert 3.0 < amax < 20.0


def test_entropy_keeps_everything_for_a_narrow_histogram():
    hist = np.zeros(NUM_BINS)
    hist[:50] = 1.0
    assert threshold(hist, 1.0, "entropy") == pytest.approx(50.5 / NUM_BINS)


def test_collected_ranges_match_a_torch_forward(calib_set):
    model = onnx.load(str(calib_set.fcn))
    files = list_images(calib_set.frames)
    ranges = collect_ranges(model, iter_feeds(GraphInput.of(model), files), "minmax", progress=False)
    net = calib_set.net  # the torch module the graph was exported from
    x = torch.from_numpy(np.stack([read_rgb(f) for f in files])).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        relu1 = torch.relu(net.conv1(x))
        conv2 = net.conv2(relu1)
    for name, ref in (("/Relu_output_0", relu1), ("/conv2/Conv_output_0", conv2)):
        r = ranges[name]
        assert r.lo == pytest.approx(float(ref.min()), abs=1e-5)
        assert r.hi == pytest.approx(float(ref.max()), rel=1e-5)
        assert r.amax == pytest.approx(float(ref.abs().max()), rel=1e-5)


def test_empty_feed_and_unknown_method_are_errors(calib_set):
    model = onnx.load(str(calib_set.fcn))
    with pytest.raises(EdgesegError, match="empty"):
        collect_ranges(model, [], "minmax", progress=False)
    with pytest.raises(EdgesegError, match="unknown calibration method"):
        collect_ranges(model, [], "kl", progress=False)
