"""Ladder step 7: a real TensorRT-family parser and builder (TensorRT for RTX, CPU only) takes every
zoo graph and torchvision's families (R-CNN v1/v2, MobileNetV3 detectors, FCN, DeepLabV3, LR-ASPP),
patched as `edgeseg patch` writes them, segment by segment.

TensorRT for RTX takes no plugin layers, so graphs are cut at their plugin nodes (and at ONNX
RoiAlign, which its parser maps to a plugin it lacks); every plugin-free segment must parse and
build for SM86 in FP32, FP16 (through edgeseg's FP16 pass: strong typing) and INT8 (a symmetric Q/DQ
graph). Plugin nodes themselves are checked by `make trt-rtx-plugins`. The table of results is in
the terminal summary and in out/rtx-ladder.txt. Necessary, not sufficient, for TensorRT 10.3.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from torchvision_graphs import FAMILIES, KINDS, export_family, export_torchvision

from edgeseg.engine.segment_check import CHECK_PRECISIONS, SegmentChecker, SegmentReport, format_table

ROOT = Path(__file__).resolve().parents[2]
ZOO_GRAPHS = sorted(p.stem for p in (ROOT / "edgeseg" / "zoo").glob("*.onnx"))
TORCHVISION_GRAPHS = [f"torchvision_{kind}_{ops}" for kind in KINDS for ops in ("edgeseg", "onnx")]


def _family_cases() -> list:
    """FP32 for every family graph, in the default run where cheap; other precisions in the slow run."""
    cases = []
    for arch, cheap in FAMILIES.items():
        for precision in CHECK_PRECISIONS:
            slow = precision != "fp32" or not cheap
            cases.append(pytest.param(f"torchvision_{arch}", precision, id=f"{arch}-{precision}",
                                      marks=[pytest.mark.slow] if slow else []))
    return cases
REPORTS: list[SegmentReport] = []


@pytest.fixture(scope="session")
def checker(request: pytest.FixtureRequest) -> SegmentChecker:
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    return SegmentChecker(86, cache_dir=cache.mkdir("rtx-ladder") if cache else None)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    """name -> the patched FP32 graph with its plugin boundary shapes, made once per session."""
    import onnx

    from edgeseg.engine.segment_check import with_boundary_shapes
    from edgeseg.surgery.registry import patch_file

    folder = tmp_path_factory.mktemp("rtx-ladder")
    graphs: dict[str, object] = {}

    def get(name: str):
        if name not in graphs:
            graphs.clear()  # tests run graph by graph: keep one (ResNet-50 graphs are 170 MB each)
            if name.removeprefix("torchvision_") in FAMILIES:
                source = export_family(name.removeprefix("torchvision_"), folder / f"{name}.onnx")
            elif name.startswith("torchvision_"):
                _, kind, ops = name.split("_")
                source = export_torchvision(kind, ops, folder / f"{name}.onnx")
            else:
                source = ROOT / "edgeseg" / "zoo" / f"{name}.onnx"
            patched = patch_file(source, folder / f"{name}.trt.onnx")
            graphs[name] = with_boundary_shapes(onnx.load(str(patched)))
        return graphs[name]

    return get



@pytest.fixture(scope="module", autouse=True)
def write_table():
    yield
    if REPORTS:
        out = ROOT / "out"
        out.mkdir(exist_ok=True)
        (out / "rtx-ladder.txt").write_text(format_table(REPORTS) + "\n", encoding="utf-8")
        print("\n" + format_table(REPORTS))


@pytest.mark.parametrize("precision", CHECK_PRECISIONS)
@pytest.mark.parametrize("graph", ZOO_GRAPHS + TORCHVISION_GRAPHS)
def test_every_segment_parses_and_builds_for_sm86(graph, precision, checker, prepared):
    check(graph, precision, checker, prepared)


@pytest.mark.parametrize(("graph", "precision"), _family_cases())
def test_torchvision_families_parse_and_build_for_sm86(graph, precision, checker, prepared):
    check(graph, precision, checker, prepared)


def check(graph, precision, checker, prepared):
    reports = checker.check_model(graph, prepared(graph), precision)
    REPORTS.extend(reports)
    failures = [f"segment {r.segment} ({r.nodes} nodes): {r.message}" for r in reports if not r.ok]
    assert reports and not failures, f"TensorRT for RTX {checker.caps.version_str}: " + " | ".join(failures)


def test_the_ladder_covers_every_zoo_graph():
    """A new zoo graph joins the ladder by existing: none may be missed by a stale list."""
    assert len(ZOO_GRAPHS) >= 13 and "fcn_bilinear" in ZOO_GRAPHS and "panoptic_rcnn" in ZOO_GRAPHS
