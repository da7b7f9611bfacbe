"""Does this CPU speed up INT8 at all? A control for bench_int8.py: torchvision ResNet-18 (random
weights, 224x224), FP32 vs ONNX Runtime's own U8/S8 static quantization, ratio in one run.

ONNX Runtime's fast U8/S8 convolutions need VNNI (AVX512-VNNI or AVX-VNNI); on an AVX2-only CPU the
INT8 kernels are no faster than the FP32 ones. If this control shows no speed-up, neither will the
zoo's slimmer graphs, whatever the graph looks like.

    python benchmarks/bench_int8_control.py [--threads 1] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeseg.calibration.cpu_int8 import cpu_int8_flags
from edgeseg.calibration.session import make_session


def export_resnet18(path: Path) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    torch.onnx.export(
        model, (torch.rand(1, 3, 224, 224),), str(path), input_names=["x"], opset_version=17, dynamo=False
    )


def quantize_u8s8(src: Path, dst: Path, frames: int = 8) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class RandomFrames(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = frames
            self.rng = np.random.default_rng(0)

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.left == 0:
                return None
            self.left -= 1
            return {"x": self.rng.random((1, 3, 224, 224), dtype=np.float32)}

    quantize_static(
        str(src),
        str(dst),
        RandomFrames(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "resnet18.onnx", Path(tmp) / "resnet18.u8s8.onnx"
        export_resnet18(fp32)
        quantize_u8s8(fp32, int8)
        sessions = [make_session(onnx.load(str(p)), args.threads) for p in (fp32, int8)]
    feed = {"x": np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)}
    for s in sessions:
        s.run(None, feed)
    times: list[list[float]] = [[], []]
    for _ in range(args.runs):
        for k, s in enumerate(sessions):  # alternate, so background load hits both alike
            start = time.perf_counter()
            s.run(None, feed)
            times[k].append((time.perf_counter() - start) * 1000.0)
    a, b = statistics.median(times[0]), statistics.median(times[1])
    flags = cpu_int8_flags()
    print(f"CPU INT8 flags: {', '.join(flags) or 'none (no VNNI: expect no INT8 speed-up on ORT CPU)'}")
    print(
        f"ResNet-18 224x224, ORT CPU, {args.threads} thread(s), median of {args.runs}: "
        f"FP32 {a:.1f} ms, U8/S8 {b:.1f} ms, speed-up {a / b:.2f}x"
    )


if __name__ == "__main__":
    main()
