"""A corpus of bad inputs across the CLI verbs (`run`, `eval`, `data`, `train`, `export`, `patch`,
`inspect`, `calibrate`) and the Python runtime API.

Each case must end in a clean refusal: exit code 2 (CLI) or `EdgesegError` (API) with one line that
names the problem, and nothing written or lost (every file under the case's folder and the shared
inputs is unchanged, unless the case says what it may write). A few cases are warnings by design
(exit 0, a counted warning line, only the good frames written).

Each case also records what it was before issue 14 if it is not clean: `silent` (data lost or damaged
without a word), `accepted` (a bad value taken), or it ends in a `traceback`. With
EDGESEG_CORPUS_REPORT=FILE the outcome of every case is written to FILE as JSON, which is how the
counts in the issue's closing note are made (run the file against the old and the new code).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeseg.cli import main
from edgeseg.errors import EdgesegError

MODEL = "fcn_nearest"  # the smallest zoo graph: cases that reach the model stay fast
OUTCOMES: dict[str, str] = {}


def shapes(frames: int = 2, extra: str = "") -> str:
    return f"shapes://?fps=0&size=64x48&frames={frames}&seed=1{extra}"


# ---- shared inputs, made once -------------------------------------------------------------------
def _write_clip(path: Path, frames: int, faststart: bool) -> None:
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs the cases read: a dataset, clips (whole and cut in half), images (one truncated)."""
    import cv2

    root = tmp_path_factory.mktemp("world")
    assert main(["data", "shapes", "--out", str(root / "set"), "--split", "val", "--images", "2",
                 "--size", "64", "--no-progress"]) == 0
    assert main(["data", "shapes", "--out", str(root / "train"), "--split", "train", "--images", "2",
                 "--size", "64", "--quiet"]) == 0
    _write_clip(root / "clip.mp4", 6, faststart=False)
    _write_clip(root / "full.mp4", 120, faststart=True)
    data = (root / "full.mp4").read_bytes()
    (root / "half.mp4").write_bytes(data[: len(data) // 2])
    (root / "images").mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cv2.imwrite(str(root / "images" / name), rng.integers(0, 255, (48, 64, 3), np.uint8))
    jpeg = (root / "images" / "b.jpg").read_bytes()
    (root / "images" / "b.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a video\n")
    (root / "fake.mp4").write_text("not a video\n")
    from edgeseg.runtime.command import resolve_model

    shutil.copy(resolve_model(MODEL), root / "model.onnx")  # the graph `run MODEL` runs
    return root


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under `roots` with its content hash: the "nothing written, nothing lost" check."""
    files: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


# ---- the cases ----------------------------------------------------------------------------------
@dataclass
class Case:
    """`args` for a CLI verb (W = the shared inputs, T = the case's own folder) or `api(W, T)`."""

    name: str
    message: str  # a regex the one-line message must match
    before: str  # what this case was before issue 14 when not clean: silent | accepted | traceback
    args: list[str] = field(default_factory=list)
    api: Callable[[Path, Path], Any] | None = None
    exit_code: int = 2
    writes: Callable[[Path, Path, str], None] | None = None  # checks what a warning-only case wrote
    setup: Callable[[Path, pytest.MonkeyPatch], None] | None = None
    needs_torch: bool = False


def run_args(*args: str, sink: str | None = "T/r.jsonl") -> list[str]:
    return ["run", "--no-progress", "--threads", "1", *args, *(["--sink", sink] if sink else [])]


def src(source: str, *extra: str, sink: str | None = "T/r.jsonl") -> list[str]:
    """`edgeseg run` of the small zoo graph on `source`."""
    return run_args(MODEL, "--source", source, *extra, sink=sink)


def _read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder nobody may write in; as root, permission bits do not stop writes, so the write probe
    is made to fail as a read-only mount would."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        try:
            import edgeseg.outputs as outputs
        except ImportError:  # before issue 14 there was no probe to patch
            return

        def refuse(path: Path) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr(outputs, "_probe", refuse)


def _without(module: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    """The machine without `module`'s extra: importing it fails as if it were not installed."""
    def setup(_: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` -> ModuleNotFoundError
    return setup


def _file(path: Path, _: pytest.MonkeyPatch) -> None:
    path.write_text("a file, not a folder\n")


def _folder(path: Path, _: pytest.MonkeyPatch) -> None:
    path.mkdir()


class TinyBackend:
    """One float output per frame: enough for the pipeline to run without any model file."""

    name = "tiny"

    def inputs(self) -> list[Any]:
        from edgeseg.runtime.backend import TensorSpec

        return [TensorSpec("image", (None, None, None, 3), np.dtype(np.float32))]

    def outputs(self) -> list[Any]:
        from edgeseg.runtime.backend import TensorSpec

        return [TensorSpec("mean", (None,), np.dtype(np.float32))]

    def infer(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"mean": batch["image"].reshape(len(batch["image"]), -1).mean(axis=1)}

    def infer_async(self, batch: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


class TinyAdapter:
    model_path = None

    def preprocess(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], Any]:
        return {"image": image[None].astype(np.float32)}, None

    def postprocess(self, outputs: Any, meta: Any, result: Any) -> None:
        result.scores = np.asarray([outputs["mean"]], np.float32)


def pipeline(source: Any, **kwargs: Any) -> list[Any]:
    """Build and drain a pipeline over the tiny model; bad values must fail before or while running."""
    from edgeseg.runtime.pipeline import Pipeline

    kwargs.setdefault("model", TinyAdapter())
    kwargs.setdefault("backend", TinyBackend())
    return list(Pipeline(source, **kwargs))


def frames(*shapes_and_types: tuple[tuple[int, ...], Any]) -> list[np.ndarray]:
    return [np.zeros(shape, dtype) for shape, dtype in shapes_and_types]


GOOD = ((48, 64, 3), np.uint8)


def _predictions(entry: dict[str, Any]) -> Callable[[Path, pytest.MonkeyPatch], None]:
    """Writes T/pred.json: one box prediction on image 1 of the shared set, with `entry` merged in."""
    def setup(tmp: Path, _: pytest.MonkeyPatch) -> None:
        base = {"image_id": 1, "category_id": 1, "bbox": [4.0, 4.0, 10.0, 10.0], "score": 0.9}
        text = json.dumps([{**base, **entry}])  # json writes NaN and Infinity, as numpy users' files hold
        (tmp / "pred.json").write_text(text)
    return setup


def eval_args(task: str = "bbox") -> list[str]:
    return ["eval", "--gt", "W/set", "--split", "val", "--pred", "T/pred.json", "--task", task]


def _checkpoint(kind: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(tmp: Path, _: pytest.MonkeyPatch) -> None:
        import torch

        run = tmp / "run"
        run.mkdir()
        (run / "run.json").write_text("{}\n")
        if kind == "code":  # a reference to a function: weights_only loading refuses it
            torch.save({"model": {}, "optimizer": {}, "step": 1, "hook": os.getcwd}, run / "checkpoint.pt")
        elif kind == "truncated":
            torch.save({"model": {"w": torch.zeros(64)}, "optimizer": {}, "step": 1}, run / "checkpoint.pt")
            data = (run / "checkpoint.pt").read_bytes()
            (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])
        elif kind == "foreign":
            torch.save({"w": torch.zeros(2)}, run / "checkpoint.pt")
    return setup


def train_args(*extra: str) -> list[str]:
    return ["train", MODEL, "--data", "W/train", "--out", "T/run", "--no-progress", "--no-eval", *extra]


def _jsonl_lines(count: int, warning: str) -> Callable[[Path, Path, str], None]:
    def check(world: Path, tmp: Path, err: str) -> None:
        lines = (tmp / "r.jsonl").read_text().splitlines()
        assert len(lines) == count, f"{len(lines)} results written, expected {count}"
        assert re.search(warning, err), err
    return check


def _truncated_clip_results(world: Path, tmp: Path, err: str) -> None:
    written = len((tmp / "r.jsonl").read_text().splitlines())
    assert f"ended after {written} of its 120 frames" in err  # what was decoded reached the sink


CASES = [
    # ---- edgeseg run: sinks ----
    Case("run sink is the source", "is the source", "silent",
         src("W/clip.mp4", sink="W/clip.mp4")),
    Case("run sink is the source, spelled file://", "is the source", "silent",
         src("file://W/clip.mp4", sink="W/clip.mp4")),
    Case("run same jsonl sink twice", "given twice", "silent",
         [*src(shapes()), "--sink", "T/r.jsonl"]),
    Case("run jsonl sink is a folder", "is a folder|Is a directory", "traceback",
         src(shapes(), sink="T/r.jsonl"), setup=lambda t, m: _folder(t / "r.jsonl", m)),
    Case("run mp4 sink is a folder", "is a folder", "traceback",
         src(shapes(), sink="T/o.mp4"), setup=lambda t, m: _folder(t / "o.mp4", m)),
    Case("run jsonl sink under a file", "is a file, not a folder", "traceback",
         src(shapes(), sink="T/f/r.jsonl"), setup=lambda t, m: _file(t / "f", m)),
    Case("run mp4 sink under a file", "is a file, not a folder", "traceback",
         src(shapes(), sink="T/f/o.mp4"), setup=lambda t, m: _file(t / "f", m)),
    Case("run jsonl sink in a read-only folder", "read-only", "accepted",
         src(shapes(), sink="T/ro/r.jsonl"), setup=lambda t, m: _read_only(t / "ro", m)),
    Case("run mp4 sink in a read-only folder", "read-only", "accepted",
         src(shapes(), sink="T/ro/o.mp4"), setup=lambda t, m: _read_only(t / "ro", m)),
    Case("run unknown sink kind", "unknown sink", "traceback", src(shapes(), sink="T/o.txt")),
    # ---- edgeseg run: values ----
    Case("run --min-score nan", "--min-score must be a score between 0 and 1", "accepted",
         src(shapes(), "--min-score", "nan")),
    Case("run --min-score 1.5", "--min-score must be a score between 0 and 1", "accepted",
         src(shapes(), "--min-score", "1.5")),
    Case("run --min-score -0.1", "--min-score must be a score between 0 and 1", "accepted",
         src(shapes(), "--min-score", "-0.1")),
    Case("run --min-score inf", "--min-score must be a score between 0 and 1", "accepted",
         src(shapes(), "--min-score", "inf")),
    Case("run shapes fps=nan", "fps must be finite", "accepted", src(shapes(2, "&fps=nan"))),
    Case("run shapes fps=inf", "fps must be finite", "accepted", src(shapes(2, "&fps=inf"))),
    Case("run shapes unknown option", r"unknown option\(s\) \['fsp'\]", "accepted",
         src(shapes(2, "&fsp=3"))),
    Case("run shapes 0x0 frames", "size positive", "traceback", src("shapes://?size=0x0")),
    Case("run --batch 0", "--batch must be >= 1", "accepted", src(shapes(), "--batch", "0")),
    Case("run --threads -1", "--threads must be >= 0", "accepted",
         src(shapes(), "--threads", "-1")),
    Case("run unknown model", "unknown model 'nope'", "traceback", run_args("nope", "--source", shapes())),
    # ---- edgeseg run: sources ----
    Case("run missing source", "source 'T/none.mp4' not found", "traceback",
         src("T/none.mp4")),
    Case("run empty image folder", "no images match", "traceback", src("W/empty")),
    Case("run text file as video", "cannot read video file", "traceback", src("W/fake.mp4")),
    Case("run faststart mp4 cut in half", r"ended after \d+ of its 120 frames: the file is truncated",
         "silent",
         src("W/half.mp4"), writes=_truncated_clip_results),
    Case("run glob with a truncated JPEG", "skipped 1 truncated image", "silent",
         src("W/images/*.jpg"), exit_code=0,
         writes=_jsonl_lines(2, r"skipped 1 truncated image\(s\), first .*b\.jpg")),
    # ---- Python API: Pipeline ----
    Case("Pipeline(None)", "None is not a source", "traceback", api=lambda w, t: pipeline(None)),
    Case("Pipeline(1.5)", "1.5 is not a source", "traceback", api=lambda w, t: pipeline(1.5)),
    Case("Pipeline with a 0x0 frame", r"shape \(0, 0, 3\)", "traceback",
         api=lambda w, t: pipeline(frames(GOOD, ((0, 0, 3), np.uint8)))),
    Case("Pipeline with a grey [H, W] frame", r"shape \(48, 64\)", "traceback",
         api=lambda w, t: pipeline(frames(((48, 64), np.uint8)))),
    Case("Pipeline with a float frame", "must be uint8", "accepted",
         api=lambda w, t: pipeline(frames(((48, 64, 3), np.float32)))),
    Case("Pipeline backend='foo' with a zoo model", "unknown backend 'foo'", "accepted",
         api=lambda w, t: pipeline(shapes(), model=MODEL, backend="foo")),
    Case("Pipeline backend='foo' with an adapter", "unknown backend 'foo'", "traceback",
         api=lambda w, t: pipeline(shapes(), backend="foo")),
    Case("Pipeline model=None", "model is None", "traceback",
         api=lambda w, t: pipeline(shapes(), model=None)),
    Case("Pipeline queue_size=0", "queue_size must be an integer >= 1", "accepted",
         api=lambda w, t: pipeline(shapes(), queue_size=0)),
    Case("Pipeline queue_size=-3", "queue_size must be an integer >= 1", "accepted",
         api=lambda w, t: pipeline(shapes(), queue_size=-3)),
    Case("Pipeline max_wait_s=-1", "max_wait_s must be a finite number of seconds >= 0", "accepted",
         api=lambda w, t: pipeline(shapes(), batch=2, max_wait_s=-1.0)),
    Case("Pipeline max_wait_s=nan", "max_wait_s must be a finite number of seconds >= 0", "accepted",
         api=lambda w, t: pipeline(shapes(), max_wait_s=float("nan"))),
    Case("Pipeline batch=0", "batch must be (an integer )?>= 1", "traceback",
         api=lambda w, t: pipeline(shapes(), batch=0)),
    Case("Pipeline policy='fast'", "unknown policy 'fast'", "traceback",
         api=lambda w, t: pipeline(shapes(), policy="fast")),
    Case("Pipeline unknown option for shapes://", "unknown source option.*bogus", "accepted",
         api=lambda w, t: pipeline(shapes(), source_options={"bogus": 1})),
    Case("Pipeline fps option for a video file", "unknown source option.*fps", "accepted",
         api=lambda w, t: pipeline(str(w / "clip.mp4"), source_options={"fps": 5})),
    Case("Pipeline misspelt option for an image glob", "unknown source option.*backof", "traceback",
         api=lambda w, t: pipeline(str(w / "images"), source_options={"backof": None})),
    Case("Pipeline fps=nan for frames", "fps must be a positive finite number", "accepted",
         api=lambda w, t: pipeline(frames(GOOD), source_options={"fps": float("nan")})),
    Case("Pipeline fps=inf for an image glob", "fps must be a positive finite number", "accepted",
         api=lambda w, t: pipeline(str(w / "images" / "a.jpg"), source_options={"fps": float("inf")})),
    Case("Pipeline sink is the source", "is the source", "silent",
         api=lambda w, t: pipeline(str(w / "clip.mp4"), sinks=[str(w / "clip.mp4")])),
    Case("Pipeline min_score=nan", "min_score must be a score between 0 and 1", "traceback",
         api=lambda w, t: pipeline(shapes(), min_score=float("nan"))),
    # ---- edgeseg eval ----
    Case("eval NaN box coordinate", "NaN or infinite coordinate", "silent", eval_args(),
         setup=_predictions({"bbox": [float("nan"), 4.0, 10.0, 10.0]})),
    Case("eval infinite box width", "NaN or infinite coordinate", "silent", eval_args(),
         setup=_predictions({"bbox": [4.0, 4.0, float("inf"), 10.0]})),
    Case("eval NaN score", "NaN or infinite score", "silent", eval_args(),
         setup=_predictions({"score": float("nan")})),
    Case("eval NaN keypoint", "NaN or infinite coordinate", "silent", eval_args("keypoints"),
         setup=_predictions({"category_id": 5, "keypoints": [float("nan")] + [1.0] * 50})),
    Case("eval box of 3 numbers", r"'bbox' must be \[x, y, width, height\]", "traceback", eval_args(),
         setup=_predictions({"bbox": [1, 2, 3]})),
    Case("eval predictions not JSON", "is not valid JSON", "traceback", eval_args(),
         setup=lambda t, m: (t / "pred.json").write_text("[{")),
    Case("eval predictions missing", "prediction path T/pred.json not found", "traceback", eval_args()),
    # ---- edgeseg data shapes ----
    Case("data --out is a file", "already exists", "traceback",
         ["data", "shapes", "--out", "T/f", "--images", "1", "--size", "64", "--quiet"],
         setup=lambda t, m: _file(t / "f", m)),
    Case("data --out under a file", "is a file, not a folder|File exists", "traceback",
         ["data", "shapes", "--out", "T/f/set", "--images", "1", "--size", "64", "--quiet"],
         setup=lambda t, m: _file(t / "f", m)),
    Case("data --out in a read-only folder", "read-only", "accepted",
         ["data", "shapes", "--out", "T/ro/set", "--images", "1", "--size", "64", "--quiet"],
         setup=lambda t, m: _read_only(t / "ro", m)),
    Case("data --images 0", "--images must be a positive number", "accepted",
         ["data", "shapes", "--out", "T/set", "--images", "0", "--quiet"]),
    Case("data --size 10", "--size 10 is too small", "accepted",
         ["data", "shapes", "--out", "T/set", "--images", "1", "--size", "10", "--quiet"]),
    # ---- edgeseg train ----
    Case("train --resume from a checkpoint that pickles code", "pickles code or objects other than tensors",
         "traceback", train_args("--resume"), setup=_checkpoint("code"), needs_torch=True),
    Case("train --resume from a truncated checkpoint", "cannot be read as a checkpoint", "traceback",
         train_args("--resume"), setup=_checkpoint("truncated"), needs_torch=True),
    Case("train --resume from plain weights", "is not an edgeseg training checkpoint", "traceback",
         train_args("--resume"), setup=_checkpoint("foreign"), needs_torch=True),
    Case("train --resume without a checkpoint", "no checkpoint at", "traceback", train_args("--resume"),
         needs_torch=True),
    Case("train --epochs 0", "--epochs must be >= 1", "accepted", train_args("--epochs", "0"),
         needs_torch=True),
]


def export_args(*extra: str, out: str = "T/out.onnx") -> list[str]:
    return ["export", MODEL, "--random-init", "-o", out, *extra]


def patch_args(out: str = "T/out.onnx") -> list[str]:
    return ["patch", "W/model.onnx", "-o", out]


def calibrate_args(*extra: str, out: str = "T/out.onnx") -> list[str]:
    return ["calibrate", "W/model.onnx", "--data", "W/images", "-o", out, "--no-budget", "--no-progress",
            *extra]


CASES += [
    # ---- edgeseg export ----
    Case("export -o is a folder", "-o T/out.onnx is a folder", "traceback", export_args(),
         setup=lambda t, m: _folder(t / "out.onnx", m)),
    Case("export -o under a file", "T/f is a file, not a folder", "traceback",
         export_args(out="T/f/out.onnx"), setup=lambda t, m: _file(t / "f", m)),
    Case("export -o in a read-only folder", "read-only", "traceback", export_args(out="T/ro/out.onnx"),
         setup=lambda t, m: _read_only(t / "ro", m)),
    Case("export --opset 99", "--opset 99 is not supported: use 16 to 20", "traceback",
         export_args("--opset", "99")),
    Case("export --opset 21 (above torch's exporter)", "--opset 21 is not supported: use 16 to 20",
         "accepted", export_args("--opset", "21")),
    Case("export without torch", r"torch is not installed.*pip install 'edgeseg\[train\]'", "traceback",
         export_args(), setup=_without("torch")),
    # ---- edgeseg patch / inspect ----
    Case("patch -o is a folder", "-o T/out.onnx is a folder", "traceback", patch_args(),
         setup=lambda t, m: _folder(t / "out.onnx", m)),
    Case("patch -o under a file", "T/f is a file, not a folder", "traceback", patch_args("T/f/out.onnx"),
         setup=lambda t, m: _file(t / "f", m)),
    Case("patch -o in a read-only folder", "read-only", "traceback", patch_args("T/ro/out.onnx"),
         setup=lambda t, m: _read_only(t / "ro", m)),
    Case("patch without onnx-graphsurgeon", r"onnx-graphsurgeon is not installed.*'edgeseg\[deploy\]'",
         "traceback", patch_args(), setup=_without("onnx_graphsurgeon")),
    Case("inspect without onnx-graphsurgeon", r"onnx-graphsurgeon is not installed.*'edgeseg\[deploy\]'",
         "traceback", ["inspect", "W/model.onnx"], setup=_without("onnx_graphsurgeon")),
    # ---- edgeseg calibrate ----
    Case("calibrate -o is a folder", "-o T/out.onnx is a folder", "traceback", calibrate_args(),
         setup=lambda t, m: _folder(t / "out.onnx", m)),
    Case("calibrate --cpu-out under a file", "--cpu-out T/f/cpu.onnx: cannot write there", "traceback",
         calibrate_args("--cpu-out", "T/f/cpu.onnx"), setup=lambda t, m: _file(t / "f", m)),
    Case("calibrate -o in a read-only folder", "read-only", "traceback", calibrate_args(out="T/ro/o.onnx"),
         setup=lambda t, m: _read_only(t / "ro", m)),
    Case("calibrate --cpu-out is -o", "--cpu-out T/out.onnx is also given as -o", "silent",
         calibrate_args("--cpu-out", "T/out.onnx")),
    Case("calibrate -o is the model", "is the model being calibrated", "silent",
         calibrate_args(out="W/model.onnx")),
    Case("calibrate --budget -1", "argument --budget: -1 is not an allowed metric drop", "accepted",
         calibrate_args("--budget", "-1")),
    Case("calibrate --budget nan", "argument --budget: nan is not an allowed metric drop", "accepted",
         calibrate_args("--budget", "nan")),
    Case("calibrate without onnxruntime", r"onnxruntime is not installed.*'edgeseg\[ort\]'", "traceback",
         calibrate_args(), setup=_without("onnxruntime")),
]


def _expand(text: str, world: Path, tmp: Path) -> str:
    return re.sub(r"\b([WT])/", lambda m: f"{world if m.group(1) == 'W' else tmp}/", text)


def outcome(case: Case, world: Path, tmp: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """("clean" | "traceback" | "unclear" | case.before, the message) of one case."""
    if case.api is not None:
        try:
            case.api(world, tmp)
        except EdgesegError as err:
            text = str(err)
            ok = re.search(_expand(case.message, world, tmp), text) and "\n" not in text
            return ("clean" if ok else "unclear"), text
        except Exception as err:  # noqa: BLE001 - a traceback is what the corpus looks for
            return "traceback", f"{type(err).__name__}: {err}"
        return case.before, ""
    args = [_expand(a, world, tmp) for a in case.args]
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    except Exception as err:  # noqa: BLE001
        capsys.readouterr()
        return "traceback", f"{type(err).__name__}: {err}"
    _, err = capsys.readouterr()
    message = _expand(case.message, world, tmp)
    if code == 0 and case.exit_code != 0:
        return case.before, err
    if case.exit_code == 0:
        return ("clean" if code == 0 and re.search(message, err) else case.before), err
    errors = [line for line in err.splitlines() if "error:" in line]
    ok = code == case.exit_code and len(errors) == 1 and re.search(message, errors[0])
    return ("clean" if ok else "unclear"), err


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    target = os.environ.get("EDGESEG_CORPUS_REPORT")
    if target:
        Path(target).write_text(json.dumps(OUTCOMES, indent=1) + "\n")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, world: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    if case.needs_torch:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    if case.setup is not None:
        case.setup(tmp_path, monkeypatch)
    before = snapshot(world, tmp_path)
    try:
        result, message = outcome(case, world, tmp_path, capsys)
    finally:
        for folder in tmp_path.rglob("*"):
            if folder.is_dir():
                folder.chmod(0o755)
    OUTCOMES[case.name] = result
    assert result == "clean", f"{case.name}: {result}: {message}"
    if case.writes is not None:
        case.writes(world, tmp_path, message)
        assert snapshot(world) == {k: v for k, v in before.items() if k in snapshot(world)}
    else:
        assert snapshot(world, tmp_path) == before, "a refused input must write nothing and lose nothing"


@pytest.mark.parametrize("flag", ["--no-progress", "--quiet"])
def test_data_takes_no_progress_and_its_old_name_quiet(flag: str) -> None:
    """One flag name across verbs (`--no-progress`); `data`'s older `--quiet` still works for scripts."""
    from edgeseg.cli import build_parser

    args = build_parser("data").parse_args(["data", "shapes", "--out", "x", flag])
    assert args.no_progress is True
    assert build_parser("data").parse_args(["data", "shapes", "--out", "x"]).no_progress is False


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
