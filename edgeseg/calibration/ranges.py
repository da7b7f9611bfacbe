"""Activation ranges measured on ONNX Runtime CPU: one set feeds the Q/DQ graph, the CPU graph and the cache.

How: every float activation becomes an extra graph output; for each frame we update a running
min/max and a histogram of |x| per tensor (2048 bins, re-binned when a larger value arrives), then
turn each histogram into a symmetric clipping threshold `amax` with the recipe's method:
- minmax: the largest |x| seen;
- percentile: the |x| below which `percentile` % of the values fall;
- entropy: the threshold whose 128-level quantized histogram is closest (KL divergence) to the
  clipped original, the rule TensorRT's EntropyCalibration2 follows.
`lo`/`hi` are the observed min/max clipped to [-amax, amax]: the asymmetric U8 CPU graph uses them,
the symmetric S8 graph and the TensorRT cache use `amax`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.calibration.session import make_session
from edgeseg.errors import EdgesegError

METHODS = ("entropy", "percentile", "minmax")
NUM_BINS = 2048
QUANT_LEVELS = 128  # positive INT8 levels a symmetric threshold is spread over
ENTROPY_STRIDE = 4  # candidate thresholds tried by the KL search: every 4th bin
MIN_AMAX = 1e-6  # an all-zero tensor still gets a positive scale (TensorRT rejects 0)
FLOAT = 1  # onnx.TensorProto.FLOAT


@dataclass(frozen=True)
class TensorRange:
    """Measured range of one activation tensor."""

    lo: float
    hi: float
    amax: float


class _TensorStats:
    """Running min, max and |x| histogram of one tensor."""

    def __init__(self) -> None:
        self.lo = np.inf
        self.hi = -np.inf
        self.edge = 0.0
        self.peak = 0.0
        self.hist = np.zeros(NUM_BINS, np.float64)

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        flat = np.abs(x.ravel().astype(np.float32, copy=False))
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))
        peak = float(flat.max())
        self.peak = max(self.peak, peak)
        if peak > self.edge:
            self._rebin(peak if self.edge == 0.0 else max(peak, 1.5 * self.edge))
        if self.edge == 0.0:
            self.hist[0] += flat.size
            return
        idx = np.minimum((flat * (NUM_BINS / self.edge)).astype(np.int64), NUM_BINS - 1)
        self.hist += np.bincount(idx, minlength=NUM_BINS)

    def _rebin(self, edge: float) -> None:
        """Move the counts to a wider histogram (each old bin to the new bin of its centre)."""
        if self.edge > 0.0:
            centres = (np.arange(NUM_BINS) + 0.5) * (self.edge / NUM_BINS)
            idx = np.minimum((centres * (NUM_BINS / edge)).astype(np.int64), NUM_BINS - 1)
            self.hist = np.bincount(idx, weights=self.hist, minlength=NUM_BINS).astype(np.float64)
        self.edge = edge

    def result(self, method: str, percentile: float) -> TensorRange:
        # the histogram's edge runs ahead of the data (it grows in steps): never clip above the real peak
        measured = self.peak if method == "minmax" else threshold(self.hist, self.edge, method, percentile)
        amax = max(min(measured, self.peak), MIN_AMAX)
        return TensorRange(lo=float(max(self.lo, -amax)), hi=float(min(self.hi, amax)), amax=float(amax))


def threshold(hist: np.ndarray, edge: float, method: str, percentile: float = 99.99) -> float:
    """The clipping threshold `amax` of a |x| histogram over [0, edge]."""
    total = hist.sum()
    if edge <= 0.0 or total == 0:
        return 0.0
    width = edge / len(hist)
    if method == "minmax":
        return float((np.nonzero(hist)[0][-1] + 1) * width)
    if method == "percentile":
        cdf = np.cumsum(hist) / total
        return float((np.searchsorted(cdf, percentile / 100.0) + 1) * width)
    if method == "entropy":
        return float((_entropy_bins(hist) + 0.5) * width)
    raise EdgesegError(f"unknown calibration method {method!r}: use one of {', '.join(METHODS)}")


def _entropy_bins(hist: np.ndarray) -> int:
    """The bin count i whose clipped histogram loses least information when quantized to 128 levels."""
    nbins = len(hist)
    last = int(np.nonzero(hist)[0][-1]) + 1
    if last <= QUANT_LEVELS:
        return last
    best_i, best_kl = nbins, np.inf
    tail = np.cumsum(hist[::-1])[::-1]  # tail[i] = sum(hist[i:])
    for i in range(QUANT_LEVELS, min(last, nbins) + 1, ENTROPY_STRIDE):
        ref = hist[:i]
        p = ref.copy()
        if i < nbins:
            p[-1] += tail[i]
        group = (np.arange(i) * QUANT_LEVELS) // i
        nonzero = ref > 0
        sums = np.bincount(group, weights=ref, minlength=QUANT_LEVELS)
        counts = np.bincount(group, weights=nonzero, minlength=QUANT_LEVELS)
        q = np.where(nonzero, sums[group] / np.maximum(counts[group], 1), 0.0)
        p /= p.sum()
        q_total = q.sum()
        if q_total == 0:
            continue
        q /= q_total
        mask = p > 0
        kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if kl < best_kl:
            best_i, best_kl = i, kl
    return best_i


def activation_names(model: Any) -> list[str]:
    """Float activation tensors: float graph inputs and node outputs (Constant outputs excluded).

    Types come from ONNX shape inference; tensors it cannot type (custom ops' outputs) are kept
    and filtered by dtype when they arrive.
    """
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    }
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits and types.get(i.name) == FLOAT]
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        names += [o for o in node.output if o and types.get(o, FLOAT) in (FLOAT, 0)]
    return list(dict.fromkeys(names))


def with_outputs(model: Any, names: list[str]) -> Any:
    """A copy of `model` that also returns the tensors `names`."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    present = {o.name for o in out.graph.output}
    out.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in present)
    return out


def collect_ranges(
    model: Any,
    feeds: Iterable[Mapping[str, np.ndarray]],
    method: str = "entropy",
    percentile: float = 99.99,
    total: int | None = None,
    progress: bool = True,
    threads: int = 0,
) -> dict[str, TensorRange]:
    """Run `feeds` through `model` (ModelProto) on ORT CPU and return each float activation's range."""
    from tqdm import tqdm

    if method not in METHODS:
        raise EdgesegError(f"unknown calibration method {method!r}: use one of {', '.join(METHODS)}")
    names = activation_names(model)
    session = make_session(with_outputs(model, names), threads)
    fetch = [o.name for o in session.get_outputs() if o.name in set(names)]
    stats = {n: _TensorStats() for n in fetch}
    frames = 0
    for feed in tqdm(feeds, total=total, desc="calibration ranges", unit="frame", disable=not progress):
        values = session.run(fetch, dict(feed))
        for name, value in zip(fetch, values, strict=True):
            if isinstance(value, np.ndarray) and value.dtype == np.float32:
                stats[name].add(value)
        frames += 1
    if frames == 0:
        raise EdgesegError("the calibration set is empty: pass a folder with images")
    return {n: s.result(method, percentile) for n, s in stats.items() if s.lo <= s.hi}


def save_ranges(path: Path, ranges: Mapping[str, TensorRange]) -> None:
    """Ranges as JSON {tensor: {lo, hi, amax}}: inspectable, and reusable without re-running frames."""
    path.write_text(json.dumps({k: asdict(v) for k, v in ranges.items()}, indent=1) + "\n", encoding="utf-8")


def load_ranges(path: Path) -> dict[str, TensorRange]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: TensorRange(float(v["lo"]), float(v["hi"]), float(v["amax"])) for k, v in data.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgesegError(f"cannot read ranges from {path} ({exc}): recalibrate to rewrite it") from None
