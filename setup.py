"""edgeseg: detection and segmentation models from PyTorch to real-time video on NVIDIA GPUs.

The C++ CPU kernels (`edgeseg._C`) are bound to numpy with pybind11 so the runtime stays torch-free.
Their arithmetic lives in `plugins/<op>/_math.h`, shared with the CUDA kernels and TensorRT plugins.
"""
from pathlib import Path

from setuptools import find_packages, setup

try:
    from pybind11.setup_helpers import Pybind11Extension, build_ext
except ImportError:  # pybind11 comes from pyproject's build requirements; plain `setup.py` users lack it
    Pybind11Extension = None  # type: ignore[assignment,misc]
    build_ext = None  # type: ignore[assignment,misc]

HERE = Path(__file__).parent

ext_modules = []
cmdclass = {}
if Pybind11Extension is not None:
    sources = sorted(str(p.relative_to(HERE)) for p in (HERE / "edgeseg" / "csrc").glob("*.cpp"))
    sources += sorted(str(p.relative_to(HERE)) for p in (HERE / "plugins").glob("*/*_cpu.cpp"))
    if sources:
        ext_modules.append(
            Pybind11Extension(
                "edgeseg._C",
                sources,
                include_dirs=["plugins"],
                cxx_std=17,
                extra_compile_args=["-O3"],
            )
        )
        cmdclass["build_ext"] = build_ext

EXTRAS = {
    "ort": ["onnxruntime>=1.18", "onnxruntime-extensions>=0.12", "onnx>=1.16"],
    "video": ["av>=12", "opencv-python-headless>=4.8"],
    "train": ["torch==2.14.1", "torchvision==0.29.1", "onnx>=1.16", "onnxscript>=0.1"],
    "deploy": ["onnx>=1.16", "onnx-graphsurgeon>=0.5", "onnxruntime>=1.18"],
    # Jetson users get TensorRT from JetPack's apt packages; desktop users from the tensorrt wheel.
    "trt": ["tensorrt>=10.3", "pycuda>=2024.1"],
    # TensorRT for RTX: desktop RTX GPUs, and an ahead-of-time builder that runs without a GPU.
    "rtx": ["tensorrt-rtx-cu13-libs>=1.7", "tensorrt-rtx-cu13-bindings>=1.7"],
    # `run --backend triton://...`: the gRPC client only (Jetsons and other edge clients)
    "triton": ["tritonclient[grpc]>=2.50"],
    # `edgeseg serve`: the tritonserver binary nvidia-pytriton ships (its wheel asks for numpy<2; with
    # numpy 2, install it with --no-deps: we run only its binary, see docs/serve.md) + both clients
    "serve": ["nvidia-pytriton>=0.7", "tritonclient[grpc,http]>=2.50"],
    "dev": [
        "pytest>=8",
        "pytest-timeout>=2.3",
        "mypy>=1.10",
        "ruff>=0.5",
        "types-PyYAML",
        "types-tqdm",
        # tests/test_sdist.py: `python -m build --sdist` and a wheel from it without build isolation
        "build>=1.2",
        "pybind11>=2.12",
    ],
}

setup(
    name="edgeseg",
    version="0.1.0",
    description="Detection and segmentation from PyTorch to real-time video on NVIDIA GPUs (Jetson to desktop)",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["edgeseg", "edgeseg.*"]),
    package_data={
        "edgeseg": ["py.typed", "zoo/*.json", "zoo/*.onnx", "zoo/cpu/*.onnx", "zoo/*.pt", "ops/specs/*.yaml"]
    },
    install_requires=["numpy>=1.24", "pillow>=10", "pycocotools>=2.0.7", "tqdm>=4.66", "pyyaml>=6"],
    extras_require=EXTRAS,
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    entry_points={"console_scripts": ["edgeseg=edgeseg.cli:main"]},
)
