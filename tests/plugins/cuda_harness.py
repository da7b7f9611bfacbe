"""ctypes access to the CUDA kernels (libedgeseg_kernels.so) on numpy arrays, for the needs_cuda tests.

The library comes from a CMake build (edgeseg.plugins.kernels_library_path) or, failing that, is
compiled here with nvcc for the local GPU. Inputs are copied to the device, outputs back.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg import plugins
from edgeseg.errors import EdgesegError

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    "plugins/common/kernels_capi.cu",
    "plugins/roi_align/roi_align_kernel.cu",
    "plugins/nms/nms_kernel.cu",
]
DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1}


def build_library(out_dir: Path) -> Path:
    """The kernels library: a CMake-built one if present, else nvcc for this machine's GPU."""
    try:
        return plugins.kernels_library_path()
    except EdgesegError:
        pass
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("nvcc not found and no CMake-built libedgeseg_kernels.so")
    out = out_dir / plugins.KERNELS_LIBRARY
    cmd = [
        nvcc,
        "-std=c++17",
        "-O3",
        "-shared",
        "-Xcompiler",
        "-fPIC",
        "-fmad=false",
        "-Xcompiler",
        "-fvisibility=hidden",  # as the CMake build: only the edgeseg_* C API is exported
        "-arch=native",
        "-I",
        str(REPO / "plugins"),
        *[str(REPO / s) for s in SOURCES],
        "-o",
        str(out),
    ]
    subprocess.run(cmd, check=True)
    return out


class Kernels:
    """The C ABI of kernels_capi.cu with host numpy arrays in and out."""

    def __init__(self, path: Path) -> None:
        self.lib = ctypes.CDLL(str(path))
        self.lib.edgeseg_error_string.restype = ctypes.c_char_p
        self.lib.edgeseg_nms_workspace_size.restype = ctypes.c_size_t
        self.lib.edgeseg_nms_workspace_size.argtypes = [ctypes.c_int] * 4

    def check(self, code: int) -> None:
        if code != 0:
            raise RuntimeError(self.lib.edgeseg_error_string(code).decode())

    def alloc(self, nbytes: int) -> ctypes.c_void_p:
        ptr = ctypes.c_void_p()
        self.check(self.lib.edgeseg_malloc(ctypes.byref(ptr), ctypes.c_size_t(nbytes)))
        return ptr

    def upload(self, array: np.ndarray) -> ctypes.c_void_p:
        array = np.ascontiguousarray(array)
        ptr = self.alloc(array.nbytes)
        self.check(
            self.lib.edgeseg_to_device(
                ptr, array.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(array.nbytes)
            )
        )
        return ptr

    def download(self, ptr: ctypes.c_void_p, shape: Sequence[int], dtype: Any) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        self.check(
            self.lib.edgeseg_to_host(out.ctypes.data_as(ctypes.c_void_p), ptr, ctypes.c_size_t(out.nbytes))
        )
        return out

    def roi_align(
        self, features: Sequence[np.ndarray], rois: np.ndarray, batch_idx: np.ndarray, **p: Any
    ) -> np.ndarray:
        """pooled [R, C, oh, ow] in the features' dtype (rois go in as float32, as the plugin takes them)."""
        dtype = features[0].dtype
        batch, channels = features[0].shape[:2]
        num = len(features)
        ptrs = [self.upload(f) for f in features]
        d_rois = self.upload(rois.astype(np.float32))
        d_idx = self.upload(batch_idx.astype(np.int32))
        shape = (rois.shape[0], channels, p["output_height"], p["output_width"])
        d_out = self.alloc(int(np.prod(shape)) * dtype.itemsize)
        level_ptrs = (ctypes.c_void_p * num)(*ptrs)
        heights = (ctypes.c_int32 * num)(*[f.shape[2] for f in features])
        widths = (ctypes.c_int32 * num)(*[f.shape[3] for f in features])
        scales = (ctypes.c_float * num)(*p["spatial_scales"])
        code = self.lib.edgeseg_roi_align(
            DTYPES[dtype],
            num,
            level_ptrs,
            heights,
            widths,
            scales,
            d_rois,
            d_idx,
            rois.shape[0],
            batch,
            channels,
            p["output_height"],
            p["output_width"],
            p["sampling_ratio"],
            p["aligned"],
            p["mode"],
            p["quantized"],
            ctypes.c_float(p["canonical_scale"]),
            p["canonical_level"],
            d_out,
            None,
        )
        self.check(code)
        self.check(self.lib.edgeseg_synchronize())
        out = self.download(d_out, shape, dtype)
        for ptr in [*ptrs, d_rois, d_idx, d_out]:
            self.lib.edgeseg_free(ptr)
        return out

    def nms(self, boxes: np.ndarray, scores: np.ndarray, **p: Any) -> tuple[np.ndarray, ...]:
        """(det_boxes, det_scores, det_classes, det_indices, num_detections) like edgeseg.ops.cpu.nms."""
        batch, n, c = scores.shape
        k = p["max_detections"]
        dtype = scores.dtype
        ws_size = self.lib.edgeseg_nms_workspace_size(batch, n, c, p["pre_nms_top_k"])
        d_boxes, d_scores = self.upload(boxes.astype(dtype)), self.upload(scores)
        d_ws = self.alloc(ws_size)
        outs = [
            ((batch, k, 4), dtype),
            ((batch, k), dtype),
            ((batch, k), np.int32),
            ((batch, k), np.int32),
            ((batch,), np.int32),
        ]
        d_outs = [self.alloc(int(np.prod(s)) * np.dtype(t).itemsize) for s, t in outs]
        code = self.lib.edgeseg_nms(
            DTYPES[dtype],
            d_boxes,
            int(boxes.ndim == 4),
            d_scores,
            batch,
            n,
            c,
            ctypes.c_float(p["score_threshold"]),
            ctypes.c_float(p["iou_threshold"]),
            p["pre_nms_top_k"],
            k,
            d_ws,
            ctypes.c_size_t(ws_size),
            *d_outs,
            None,
        )
        self.check(code)
        self.check(self.lib.edgeseg_synchronize())
        result = tuple(self.download(d, s, t) for d, (s, t) in zip(d_outs, outs, strict=True))
        for ptr in [d_boxes, d_scores, d_ws, *d_outs]:
            self.lib.edgeseg_free(ptr)
        return result
