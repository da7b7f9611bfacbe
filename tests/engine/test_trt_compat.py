"""The TensorRT version shim, decided from version tuples alone (expected values from the facts sheet)."""

import pytest

from edgeseg.errors import EdgesegError
from edgeseg.trt import compat as tc

NO_GRAPH = tc.GraphPrecision(has_fp16=False, has_qdq=False)
FP16_GRAPH = tc.GraphPrecision(has_fp16=True, has_qdq=False)
QDQ_GRAPH = tc.GraphPrecision(has_fp16=False, has_qdq=True)


@pytest.mark.parametrize(
    "text, expected", [("10.3.0.30", (10, 3, 0, 30)), ("11.1.0", (11, 1, 0)), (" 8.6.2.3 ", (8, 6, 2, 3))]
)
def test_parse_version(text, expected):
    assert tc.parse_version(text) == expected


def test_parse_version_rejects_garbage():
    with pytest.raises(EdgesegError, match="cannot read the TensorRT version"):
        tc.parse_version("unknown")


def test_jetpack60_tensorrt_is_refused_with_the_reason():
    with pytest.raises(EdgesegError) as err:
        tc.capabilities((8, 6, 2, 3))
    message = str(err.value)
    assert "8.6.2.3" in message and "JetPack 6.0" in message and "IPluginV3" in message and "10.3" in message


@pytest.mark.parametrize("version", [(10, 0, 1), (10, 2, 0), (9, 3, 0)])
def test_versions_below_10_3_are_refused(version):
    with pytest.raises(EdgesegError, match=">= 10.3"):
        tc.capabilities(version)


@pytest.mark.parametrize(
    "version, strongly_typed_only, implicit_int8, memory_attr",
    [
        ((10, 3, 0, 30), False, True, "device_memory_size"),
        ((10, 16, 0), False, True, "device_memory_size"),
        ((11, 0, 0), True, False, "device_memory_size_v2"),
        ((11, 4, 0, 106), True, False, "device_memory_size_v2"),
    ],
)
def test_capabilities_per_version(version, strongly_typed_only, implicit_int8, memory_attr):
    caps = tc.capabilities(version)
    assert caps.strongly_typed_only is strongly_typed_only
    assert caps.implicit_int8_calibration is implicit_int8
    assert caps.device_memory_attr == memory_attr
    assert not tc.is_untested(caps)


def test_future_major_behaves_like_11_and_is_flagged_untested():
    caps = tc.capabilities((12, 0, 0))
    assert caps.strongly_typed_only and not caps.implicit_int8_calibration
    assert tc.is_untested(caps)


@pytest.mark.parametrize(
    "version, strongly_typed, expected",
    [
        ((10, 3, 0), True, ("STRONGLY_TYPED",)),  # opt-in on 10.x
        ((10, 3, 0), False, ()),  # EXPLICIT_BATCH is never set: a no-op on 10.x, gone in 11
        ((11, 0, 0), True, ()),  # implicit (and deprecated) on 11
        ((11, 0, 0), False, ()),
    ],
)
def test_network_flag_names(version, strongly_typed, expected):
    assert tc.network_flag_names(tc.capabilities(version), strongly_typed) == expected


# (version, precision, graph, calibration cache) -> (strongly typed, builder flags, uses cache)
PLANS = [
    ((10, 3, 0), "fp32", NO_GRAPH, False, (True, (), False)),
    ((11, 1, 0), "fp32", NO_GRAPH, False, (True, (), False)),
    ((10, 3, 0), "fp16", NO_GRAPH, False, (False, ("FP16",), False)),  # 10.x: the builder flag
    ((10, 3, 0), "fp16", FP16_GRAPH, False, (True, (), False)),
    ((11, 1, 0), "fp16", FP16_GRAPH, False, (True, (), False)),
    ((10, 3, 0), "int8", QDQ_GRAPH, False, (True, (), False)),
    ((11, 1, 0), "int8", QDQ_GRAPH, False, (True, (), False)),
    ((10, 3, 0), "int8", NO_GRAPH, True, (False, ("INT8",), True)),  # implicit INT8, 10.x only
]


@pytest.mark.parametrize("version, precision, graph, cache, expected", PLANS)
def test_plan_precision(version, precision, graph, cache, expected):
    plan = tc.plan_precision(tc.capabilities(version), precision, graph, cache)
    assert (plan.strongly_typed, plan.builder_flags, plan.use_calibration_cache) == expected


@pytest.mark.parametrize(
    "version, precision, graph, cache, match",
    [
        ((11, 0, 0), "fp16", NO_GRAPH, False, "FP16 ONNX graph"),
        ((11, 0, 0), "int8", NO_GRAPH, True, "TensorRT 10 only"),
        ((11, 0, 0), "int8", NO_GRAPH, False, "Q/DQ"),
        ((10, 3, 0), "int8", NO_GRAPH, False, "calibration cache"),
        ((10, 3, 0), "fp32", QDQ_GRAPH, False, "Q/DQ"),
        ((10, 3, 0), "fp32", FP16_GRAPH, False, "float16"),
        ((10, 3, 0), "fp16", QDQ_GRAPH, False, "--precision int8"),
        ((10, 3, 0), "fp16", NO_GRAPH, True, "only makes sense with --precision int8"),
        ((10, 3, 0), "bf16", NO_GRAPH, False, "unknown precision"),
    ],
)
def test_plan_precision_refusals(version, precision, graph, cache, match):
    with pytest.raises(EdgesegError, match=match):
        tc.plan_precision(tc.capabilities(version), precision, graph, cache)


def test_int8_advice_mentions_cache_only_where_it_exists():
    for version, mentions_cache in (((10, 3, 0), True), ((11, 0, 0), False)):
        with pytest.raises(EdgesegError) as err:
            tc.plan_precision(tc.capabilities(version), "int8", NO_GRAPH)
        assert ("--calib-cache" in str(err.value)) is mentions_cache


@pytest.mark.parametrize(
    "version, encoded", [((10, 3, 0, 30), 100300), ((11, 1, 0), 110100), ((8, 6, 1), 8601)]
)
def test_encoded_version_as_in_cache_headers(version, encoded):
    assert tc.encoded_version(version) == encoded


def test_load_tensorrt_here_says_what_is_missing_and_how_to_install():
    """No TensorRT on this machine (at most the stubs' empty `tensorrt` folder): a clear error, no crash."""
    try:
        import tensorrt

        if hasattr(tensorrt, "Builder"):
            pytest.skip("real TensorRT installed: the missing path cannot be observed")
    except ImportError:
        pass
    with pytest.raises(EdgesegError) as err:
        tc.load_tensorrt()
    message = str(err.value)
    assert message.startswith("TensorRT is not installed")
    assert "python3-libnvinfer" in message and "pip install tensorrt" in message
