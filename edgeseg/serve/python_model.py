"""The Triton Python-backend model: runs an edgeseg model file on our own backends inside the server.

Triton's stub process imports this (through the repository's model.py). Tensors cross the stub
boundary through DLPack rather than `pb_utils.Tensor(name, ndarray)`, because the bundled stubs
were built against numpy 1 and hand back empty outputs for numpy 2 arrays (measured with
tritonserver 2.51 and numpy 2.4). Requests the dynamic batcher groups are run as one batch; a
request that fails gets its own error response, and the model keeps serving.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class TritonPythonModel:
    """One instance: an open backend over the model file in this version folder."""

    def initialize(self, args: dict[str, str]) -> None:
        from edgeseg.runtime import resolve

        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        folder = Path(args["model_repository"]) / args["model_version"]
        _, self.backend = resolve.open_model(str(folder / params["edgeseg.file"]), params["edgeseg.backend"],
                                             threads=int(params.get("edgeseg.threads", "0")))
        self.input = self.backend.inputs()[0]
        lead = self.input.shape[0]
        self.fixed = lead if isinstance(lead, int) and lead > 0 else None
        self.outputs = [s.name for s in self.backend.outputs()]

    def _run(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """A batch on the backend, padded to a fixed graph batch when the graph has one."""
        if self.fixed is None:
            return self.backend.infer({self.input.name: frames})
        parts = []
        for start in range(0, len(frames), self.fixed):
            chunk = frames[start:start + self.fixed]
            padded = np.concatenate([chunk] + [chunk[-1:]] * (self.fixed - len(chunk)))
            out = self.backend.infer({self.input.name: padded})
            parts.append({k: v[:len(chunk)] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def execute(self, requests: list[Any]) -> list[Any]:
        import triton_python_backend_utils as pb_utils

        frames = [np.from_dlpack(pb_utils.get_input_tensor_by_name(r, self.input.name)) for r in requests]
        try:
            outputs = self._run(np.concatenate(frames))
        except Exception:  # one bad request must not fail the others batched with it: retry alone
            return [self._one(pb_utils, f) for f in frames]
        responses, start = [], 0
        for f in frames:
            part = {k: v[start:start + len(f)] for k, v in outputs.items()}
            responses.append(self._response(pb_utils, part))
            start += len(f)
        return responses

    def _one(self, pb_utils: Any, frames: np.ndarray) -> Any:
        try:
            return self._response(pb_utils, self._run(frames))
        except Exception as exc:
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}"))

    def _response(self, pb_utils: Any, outputs: dict[str, np.ndarray]) -> Any:
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor.from_dlpack(name, np.ascontiguousarray(outputs[name])) for name in self.outputs])

    def finalize(self) -> None:
        self.backend.close()
