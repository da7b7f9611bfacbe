"""How far the FP16 graph's outputs move from the FP32 graph's, per set of ops kept FP32.

Runs both graphs on ONNX Runtime (CPU) over a few ShapesWorld images and prints, per keep set,
the largest error of every float output, the share of equal integer outputs, and how many Cast
nodes the pass added. ONNX Runtime runs FP16 nodes without an FP16 CPU kernel in FP32 between
casts, so this measures the rounding of every FP16 tensor, not TensorRT's FP16 kernels.

    python benchmarks/fp16_precision.py model.onnx [more.onnx ...] [--images 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx

from edgeseg.calibration.fp16 import convert_fp16, topological_sort
from edgeseg.calibration.fp16_check import compare_detections
from edgeseg.calibration.fp16_plan import DEFAULT_KEEP_FP32_OPS, custom_op_types
from edgeseg.data.shapes import render_image
from edgeseg.runtime.backends.ort import OrtBackend

SELECTION = custom_op_types() | {"NonMaxSuppression", "RoiAlign", "TopK", "Range", "CumSum"}
KEEP_SETS: dict[str, frozenset[str]] = {
    "selection ops only": SELECTION,
    "+ Exp, Log": SELECTION | {"Exp", "Log"},
    "+ Exp, Log, Softmax, Sigmoid": SELECTION | {"Exp", "Log", "Softmax", "Sigmoid"},
    "default": DEFAULT_KEEP_FP32_OPS,
    "default + Resize, ReduceMean": DEFAULT_KEEP_FP32_OPS | {"Resize", "ReduceMean"},
}


def converter_alone(src: Path, dst: Path) -> Path:
    """ONNX Runtime's converter with its own block list plus our op types, nothing of ours but the sort."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = convert_float_to_float16(
        onnx.load(str(src)), keep_io_types=True, op_block_list=[*DEFAULT_OP_BLOCK_LIST, *SELECTION]
    )
    topological_sort(model.graph)
    onnx.save(model, str(dst))
    return dst


def compare(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, float]:
    """Detections matched (see fp16_check); other float outputs max |error|, int outputs share equal."""
    out = {}
    if {"boxes", "scores", "classes", "num_dets"} <= set(ref):
        agree = compare_detections(ref, got)
        out["matched"] = agree.match_rate
        out["box err"], out["score err"], out["mask err"] = (
            agree.max_box_error,
            agree.max_score_error,
            agree.max_mask_error,
        )
        ref = {k: v for k, v in ref.items() if k not in ("boxes", "scores", "classes", "num_dets", "masks")}
    for name, a in ref.items():
        b = got[name]
        if a.dtype.kind == "f":
            out[name] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max(initial=0.0))
        else:
            out[name] = float((a == b).mean())
    return out


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args()
    for src in args.models:
        ref_backend = OrtBackend(src, intra_op_threads=1)
        spec = ref_backend.inputs()[0]
        size = int(spec.shape[1]) if isinstance(spec.shape[1], int) else 320
        images = [render_image(7, i, size, "val")[0][None] for i in range(args.images)]
        refs = [ref_backend.infer({spec.name: im}) for im in images]
        print(
            f"\n{src.name} ({args.images} ShapesWorld val images, {size}x{size}); detections matched "
            "at IoU 0.9, then max |error|; int outputs: share equal"
        )
        with tempfile.TemporaryDirectory() as tmp:
            variants = {"ORT converter alone": converter_alone(src, Path(tmp) / "alone.onnx")}
            for label, keep in KEEP_SETS.items():
                variants[label] = convert_fp16(src, Path(tmp) / f"{len(variants)}.onnx", keep_fp32_ops=keep)
            for label, path in variants.items():
                backend = OrtBackend(path, intra_op_threads=1)
                pairs = zip(refs, images, strict=True)
                rows = [compare(r, backend.infer({spec.name: im})) for r, im in pairs]
                casts = sum(n.op_type == "Cast" for n in onnx.load(str(path)).graph.node)
                cells = []
                for name in rows[0]:
                    values = [row[name] for row in rows]
                    is_int = name in refs[0] and refs[0][name].dtype.kind != "f"
                    lower_is_worse = name == "matched" or is_int
                    worst = min(values) if lower_is_worse else max(values)
                    cells.append(f"{name} {worst:.3g}")
                print(f"| {label} | casts {casts} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
