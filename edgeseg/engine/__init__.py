"""edgeseg.engine: TensorRT engines from ONNX graphs (TensorRT 10.3 .. 11), with a sidecar per engine.

Importing this package imports neither TensorRT nor onnx; they are loaded when a build starts.
`build_engine` takes a zoo model name or an ONNX file; `build_onnx` takes an ONNX file only.
"""

from edgeseg.engine.builder import BuildOptions, BuiltEngine, ModelRecord, build_onnx
from edgeseg.engine.chain import build_engine
from edgeseg.engine.profiles import BatchRange, ShapeRange

__all__ = [
    "BatchRange",
    "BuildOptions",
    "BuiltEngine",
    "ModelRecord",
    "ShapeRange",
    "build_engine",
    "build_onnx",
]
