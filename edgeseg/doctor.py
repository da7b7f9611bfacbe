"""`edgeseg doctor`: the acceptance test for a machine with an NVIDIA GPU and TensorRT.

Why: what cannot run in CI (CUDA kernels, plugins inside TensorRT, engines) is checked here, in
one command, on the user's own Jetson or desktop GPU: versions, the plugin library, one tiny
engine per plugin against the CPU kernels (through ONNX Runtime), and each zoo graph built per
precision against ONNX Runtime on the CPU, with latencies. Where something is missing it says
exactly what and how to install it, and exits 1.
"""

from __future__ import annotations

import argparse
import ctypes.util
import glob
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError

PASS, FAIL, SKIP, INFO = "PASS", "FAIL", "SKIP", "INFO"
TOLERANCES = {"fp32": (1e-3, 1e-3), "fp16": (5e-2, 5e-2), "int8": (1e-1, 1e-1)}  # (atol, rtol)
EXAMPLE = "example: edgeseg doctor            (or: edgeseg doctor --model my.onnx --precision fp16)"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Env:
    """What the later checks need from the environment checks."""

    gpu: str
    tensorrt: str


def nvidia_presence(
    which: Callable[[str], str | None] = shutil.which,
    paths: Callable[[str], list[str]] = glob.glob,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> tuple[bool, str]:
    """(found, one line): is there an NVIDIA GPU and driver at all? Asked before anything else, so a
    user on a machine without one learns that first, not from a table of failures. Looks only at
    what the driver installs (no CUDA call): nvidia-smi, /dev/nvidia* or Jetson's /dev/nvhost-*,
    /proc/driver/nvidia, libcuda. The probes are parameters so tests can play either machine."""
    devices = sorted(paths("/dev/nvidia[0-9]*") + paths("/dev/nvhost-*"))
    driver = [name for name, present in (("nvidia-smi", which("nvidia-smi")),
                                         ("/proc/driver/nvidia", paths("/proc/driver/nvidia/version")),
                                         ("libcuda", find_library("cuda"))) if present]
    seen = ([f"device {devices[0]}" + (f" and {len(devices) - 1} more" if len(devices) > 1 else "")]
            if devices else []) + driver
    if devices and driver:  # a device node alone is a container without the driver's libraries
        return True, f"NVIDIA GPU and driver: found ({', '.join(seen)})"
    found = f"only {', '.join(seen)}" if seen else "no nvidia-smi, no /dev/nvidia* device, no libcuda"
    return False, (f"NVIDIA GPU and driver: not found ({found}): the GPU checks below cannot pass here; "
                   "run doctor on a machine with an NVIDIA GPU and its driver (or a Jetson with JetPack)")


def render_table(checks: list[Check]) -> str:
    """Aligned `check | status | detail` rows; details may span several lines."""
    width = max([len("check")] + [len(c.name) for c in checks])
    lines = [f"{'check':<{width}}  status  detail", f"{'-' * width}  ------  ------"]
    for c in checks:
        first, *rest = c.detail.splitlines() or [""]
        lines.append(f"{c.name:<{width}}  {c.status:<6}  {first}")
        lines += [f"{'':<{width}}          {more}" for more in rest]
    return "\n".join(lines)


def _guard(name: str, fn: Callable[[], str]) -> Check:
    """Run one check; an EdgesegError is a FAIL with its message (which says what to do)."""
    try:
        return Check(name, PASS, fn())
    except EdgesegError as err:
        return Check(name, FAIL, str(err))


def environment() -> tuple[list[Check], Env | None]:
    """Python/platform, GPU + driver + CUDA binding, TensorRT. Env is None if any is missing."""
    where = f"Python {platform.python_version()} on {platform.machine()} ({_jetson()})"
    checks = [Check("platform", INFO, where)]
    facts: dict[str, str] = {}

    def gpu() -> str:
        from edgeseg.trt.cuda import open_cuda

        info = open_cuda().gpu_info()
        major, minor = info.compute_capability
        facts["gpu"] = f"{info.name} (sm_{major}{minor})"
        return (
            f"{facts['gpu']}, {info.total_memory / 2**30:.1f} GiB; driver supports CUDA "
            f"{info.driver_version}, runtime {info.runtime_version} via {info.binding}"
        )

    def tensorrt() -> str:
        from edgeseg.trt.compat import is_untested, load_tensorrt

        _, caps = load_tensorrt()
        facts["tensorrt"] = caps.version_str
        typing_rule = "strongly typed only" if caps.strongly_typed_only else "strongly typed opt-in"
        calib = (
            "INT8 from Q/DQ or a calibration cache" if caps.implicit_int8_calibration else "INT8 from Q/DQ"
        )
        note = " (newer than edgeseg was tested with)" if is_untested(caps) else ""
        return f"TensorRT {caps.version_str}{note}: {typing_rule}; {calib}"

    checks += [_guard("GPU, driver, CUDA", gpu), _guard("TensorRT", tensorrt)]
    if "gpu" in facts and "tensorrt" in facts:
        return checks, Env(facts["gpu"], facts["tensorrt"])
    return checks, None


def _jetson() -> str:
    release = Path("/etc/nv_tegra_release")
    if release.is_file():
        return "Jetson, " + release.read_text(errors="replace").splitlines()[0].strip("# ")
    return "not a Jetson"


def plugin_library_check(library: Path | None) -> Check:
    """Load the plugin library and check it registered every creator named in the op specs."""

    def load() -> str:
        from edgeseg.ops.spec import load_spec
        from edgeseg.trt.plugin_loader import load_plugin_library

        loaded = load_plugin_library(library)
        registered = {(n, v) for n, v, _ in loaded.creators}
        wanted = [load_spec(op) for op in ("roi_align", "nms")]
        missing = [
            f"{s.plugin_name} v{s.plugin_version}"
            for s in wanted
            if (s.plugin_name, s.plugin_version) not in registered
        ]
        if missing:
            raise EdgesegError(f"{loaded.path} lacks {', '.join(missing)}: rebuild the plugin library")
        names = ", ".join(f"{n} v{v} ({ns or 'no namespace'})" for n, v, ns in loaded.creators)
        return f"{loaded.path.name}: {names}"

    return _guard("plugin library", load)


def tiny_plugin_graph(op: str, path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A one-node graph with the plugin node as surgery writes it, and inputs for it."""
    import onnx
    from onnx import TensorProto, helper

    from edgeseg.ops.spec import load_spec

    spec = load_spec(op)
    fields = spec.resolve({})
    if op == "roi_align":
        fields["spatial_scales"] = [0.25]
        xy = rng.uniform(0, 48, (32, 2)).astype(np.float32)
        wh = rng.uniform(2, 16, (32, 2)).astype(np.float32)
        feed = {
            "features": rng.standard_normal((1, 8, 16, 16)).astype(np.float32),
            "rois": np.concatenate([xy, xy + wh], axis=1),
            "batch_idx": np.zeros(32, np.int32),
        }
        outputs = [o["name"] for o in spec.outputs]
    else:
        xy = rng.uniform(0, 200, (1, 300, 2)).astype(np.float32)
        wh = rng.uniform(4, 60, (1, 300, 2)).astype(np.float32)
        feed = {
            "boxes": np.concatenate([xy, xy + wh], axis=2),
            "scores": rng.uniform(0, 1, (1, 300, 3)).astype(np.float32),
        }
        outputs = [o["name"] for o in spec.outputs]
    node = helper.make_node(
        spec.plugin_name,
        list(feed),
        outputs,
        domain=spec.plugin_namespace,
        plugin_version=spec.plugin_version,
        plugin_namespace=spec.plugin_namespace,
        **fields,
    )
    elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}
    graph = helper.make_graph(
        [node],
        f"doctor_{op}",
        [helper.make_tensor_value_info(k, elem[v.dtype], list(v.shape)) for k, v in feed.items()],
        [helper.make_tensor_value_info(o, t, None) for o, t in plugin_output_types(op).items()],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(spec.plugin_namespace, 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return feed


def plugin_output_types(op: str) -> dict[str, int]:
    """ONNX element types of the plugin's outputs for float32 inputs, in spec order.

    Why: the TensorRT ONNX parser refuses graph outputs of UNDEFINED type, so the one-node graphs
    must declare them; "same as ..." in the spec means float32 here (doctor feeds float32).
    """
    from onnx import TensorProto

    from edgeseg.ops.spec import load_spec

    named = {"int32": TensorProto.INT32, "float32": TensorProto.FLOAT}
    return {o["name"]: named.get(str(o["type"]), TensorProto.FLOAT) for o in load_spec(op).outputs}


def random_feed(backend: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs for a graph: dynamic axes set to 1, floats in [0, 1), uint8 images random, other ints 0."""
    feed = {}
    for spec in backend.inputs():
        shape = tuple(d if isinstance(d, int) else 1 for d in spec.shape)
        if np.issubdtype(spec.dtype, np.floating):
            feed[spec.name] = rng.uniform(0, 1, shape).astype(spec.dtype)
        elif spec.dtype == np.uint8:  # images (export's deploy graphs take uint8 NHWC frames)
            feed[spec.name] = rng.integers(0, 256, shape, dtype=np.uint8)
        else:
            feed[spec.name] = np.zeros(shape, spec.dtype)
    return feed


def engine_source(
    onnx_path: Path,
    precision: str,
    strongly_typed_only: bool,
    out_dir: Path,
    convert: Callable[[Path, Path], Path] | None = None,
) -> Path:
    """The graph to build at `precision`: on a strongly typed TensorRT (11+) an FP32 graph goes
    through the FP16 pass first, as `edgeseg build` does, since there is no FP16 builder flag."""
    from edgeseg.engine.onnx_info import summarize

    if precision != "fp16" or not strongly_typed_only or summarize(onnx_path).precision.has_fp16:
        return onnx_path
    if convert is None:
        from edgeseg.calibration.fp16 import convert_fp16

        convert = convert_fp16
    return Path(convert(onnx_path, out_dir / f"{onnx_path.stem.split('.')[0]}.fp16.onnx"))


# Detection outputs as export names them and as the NMS plugin names them: (count, boxes, classes).
DETECTION_NAMES = (("num_dets", "boxes", "classes"), ("num_detections", "det_boxes", "det_classes"))


def align_detections(
    reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], iou: float = 0.5
) -> dict[str, np.ndarray]:
    """`candidate` with each image's detection slots reordered to match `reference` by class and IoU.

    Why: an engine may return the same detections in another order (close scores, another sort);
    comparing slot by slot would call that a failure. Each reference detection, in slot order,
    takes the unused candidate detection of its class with the highest IoU >= `iou`; unmatched
    candidates follow in their own order, so a real difference still shows. Every output shaped
    [B, K, ...] like the boxes' first two axes is reordered alike (scores, classes, masks, indices).
    """
    from edgeseg.calibration.fp16_check import box_iou

    names = next((n for n in DETECTION_NAMES if all(k in reference and k in candidate for k in n)), None)
    if names is None:
        return dict(candidate)
    count, boxes, classes = names
    ref_boxes, got_boxes = reference[boxes], candidate[boxes]
    if ref_boxes.shape != got_boxes.shape or ref_boxes.ndim != 3:
        return dict(candidate)
    batch, slots = ref_boxes.shape[:2]
    order = np.tile(np.arange(slots), (batch, 1))
    for b in range(batch):
        n_ref = min(int(reference[count][b]), slots)
        n_got = min(int(candidate[count][b]), slots)
        ious = box_iou(ref_boxes[b, :n_ref].astype(np.float64), got_boxes[b, :n_got].astype(np.float64))
        same = reference[classes][b, :n_ref, None] == candidate[classes][b, None, :n_got]
        ious = np.where(same, ious, -1.0)
        partner: list[int | None] = []
        for i in range(n_ref):
            free = [int(j) for j in np.argsort(-ious[i], kind="stable") if j not in partner]
            partner.append(free[0] if free and ious[i, free[0]] >= iou else None)
        rest = iter(j for j in range(slots) if j not in partner)
        mapped = partner + [None] * (slots - n_ref)
        order[b] = [next(rest) if p is None else p for p in mapped]
    out = dict(candidate)
    for name, value in candidate.items():
        if value.ndim >= 2 and value.shape[:2] == (batch, slots):
            out[name] = np.take_along_axis(value, order.reshape(batch, slots, *([1] * (value.ndim - 2))), 1)
    return out


def parity_check(
    name: str,
    onnx_path: Path,
    precision: str,
    out_dir: Path,
    feed: dict[str, np.ndarray] | None,
    library: Path | None,
) -> Check:
    """Build `onnx_path` at `precision`, run it and ONNX Runtime on the same inputs, compare, time."""

    def run() -> str:
        from edgeseg.engine.builder import BuildOptions, build_onnx
        from edgeseg.engine.parity import compare_outputs, median_latency_ms
        from edgeseg.runtime.backends.ort import OrtBackend
        from edgeseg.runtime.backends.trt import TrtBackend
        from edgeseg.trt.compat import load_tensorrt

        ort = OrtBackend(onnx_path)
        inputs = feed if feed is not None else random_feed(ort, np.random.default_rng(0))
        options = BuildOptions(precision=precision, plugin_library=library, progress=False)  # type: ignore[arg-type]
        source = engine_source(onnx_path, precision, load_tensorrt()[1].strongly_typed_only, out_dir)
        built = build_onnx(source, options, out_dir)
        trt = TrtBackend(built.path, plugin_library=library)
        try:
            atol, rtol = TOLERANCES[precision]
            reference = ort.infer(inputs)
            got = align_detections(reference, trt.infer(inputs))
            diffs = compare_outputs(reference, got, atol, rtol)
            latency = median_latency_ms(lambda: trt.infer(inputs))
        finally:
            trt.close()
            ort.close()
        worst = max(diffs, key=lambda d: d.max_abs)
        summary = (
            f"{latency:.2f} ms/batch; max |diff| {worst.max_abs:.2e} ({worst.name}), "
            f"tol {atol:g}+{rtol:g}*|ref|"
        )
        bad = [
            f"{d.name}: max {d.max_abs:.2e} mean {d.mean_abs:.2e} {d.note}".strip() for d in diffs if not d.ok
        ]
        if bad:
            raise EdgesegError(f"engine differs from ONNX Runtime: {'; '.join(bad)} ({summary})")
        return summary

    return _guard(f"{name} [{precision}]", run)


def zoo_graphs() -> list[Path]:
    """The exported ONNX graphs shipped with the zoo (package data edgeseg/zoo/*.onnx)."""
    folder = resources.files("edgeseg").joinpath("zoo")
    found = [Path(str(p)) for p in folder.iterdir() if p.name.endswith(".onnx")] if folder.is_dir() else []
    return sorted(p for p in found if not p.name.endswith((".trt.onnx", ".int8.onnx", ".fp16.onnx")))


def patched(onnx_path: Path, out_dir: Path) -> Path:
    """The TensorRT form of an exported graph (plugin nodes), written by the surgery passes."""
    from edgeseg.surgery.io import load_model, save_model
    from edgeseg.surgery.registry import DEFAULT_PASSES, apply

    model, _ = apply(load_model(onnx_path), list(DEFAULT_PASSES))
    dst = out_dir / f"{onnx_path.stem}.trt.onnx"
    save_model(model, dst)
    return dst


def graph_precisions(onnx_path: Path, wanted: list[str]) -> list[str]:
    """Q/DQ graphs build as int8 only, float16 graphs as fp16 only; others as asked."""
    from edgeseg.engine.onnx_info import summarize

    precision = summarize(onnx_path).precision
    if precision.has_qdq:
        return ["int8"]
    if precision.has_fp16:
        return ["fp16"]
    return [p for p in wanted if p != "int8"]


def diagnose(
    models: list[Path], precisions: list[str], out: Path | None, library: Path | None
) -> list[Check]:
    """Every check, in order; later ones are skipped (with the reason) when their basis failed."""
    checks, env = environment()
    if env is None:
        return checks + [
            Check("plugins and engines", SKIP, "need a GPU and TensorRT (see the FAIL rows above)")
        ]
    out_dir = out or Path(tempfile.mkdtemp(prefix="edgeseg-doctor-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    checks.append(Check("work folder", INFO, str(out_dir)))
    plugins = plugin_library_check(library)
    checks.append(plugins)
    rng = np.random.default_rng(0)
    for op in ("roi_align", "nms"):
        if plugins.status != PASS:
            checks.append(Check(f"plugin {op} vs CPU", SKIP, "the plugin library did not load"))
            continue
        path = out_dir / f"doctor_{op}.onnx"
        try:
            feed = tiny_plugin_graph(op, path, rng)
        except EdgesegError as err:
            checks.append(Check(f"plugin {op} vs CPU", FAIL, str(err)))
            continue
        checks.append(parity_check(f"plugin {op} vs CPU", path, "fp32", out_dir, feed, library))
    graphs = models or zoo_graphs()
    if not graphs:
        checks.append(Check("zoo models", SKIP, "no zoo ONNX graphs in this install; pass --model FILE.onnx"))
    for graph in graphs:
        try:
            target = graph if graph.name.endswith(".trt.onnx") else patched(graph, out_dir)
        except (EdgesegError, ImportError) as err:
            checks.append(Check(graph.name, FAIL, f"surgery failed: {err}"))
            continue
        for precision in graph_precisions(target, precisions):
            checks.append(parity_check(graph.name, target, precision, out_dir, None, library))
    return checks


def run(args: argparse.Namespace) -> int:
    models = [Path(m) for m in args.model]
    for m in models:
        if not m.is_file():
            raise EdgesegError(f"--model {m} does not exist")
    library = Path(args.plugins) if args.plugins else None
    print(nvidia_presence()[1], flush=True)  # first: every later check depends on it
    checks = diagnose(models, args.precision, Path(args.out) if args.out else None, library)
    print(render_table(checks))
    failed = [c for c in checks if c.status == FAIL]
    print(f"\n{len(failed)} check(s) failed" if failed else "\nall checks passed")
    return 1 if failed else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "doctor",
        help="check GPU, CUDA, TensorRT, plugins and engines on this machine",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--model", action="append", default=[], help="ONNX graph to check (default: the zoo graphs)"
    )
    p.add_argument(
        "--precision",
        nargs="+",
        default=["fp32", "fp16"],
        choices=["fp32", "fp16", "int8"],
        help="precisions",
    )
    p.add_argument("--plugins", help="plugin library path (default: edgeseg.plugins.library_path())")
    p.add_argument("--out", help="folder for engines and test graphs (default: a new temporary folder)")
    p.set_defaults(func=run)
