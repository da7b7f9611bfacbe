"""A Backend over a Triton Inference Server model (gRPC): `backend="triton://HOST:PORT/MODEL"`.

Decode, pre/post-processing and sinks stay on the edge device; only inference crosses the network.
The model's deploy metadata (task, classes, labels, input size) is read from the server's model
config parameters (written by `edgeseg serve`), so the client needs no model file. When the server
goes away, a call waits and retries with backoff until it answers again (up to `reconnect_s`): the
pipeline upstream blocks (policy `all`: no frame lost) or drops and counts old frames (`live`).
tritonclient is imported only when a backend is opened, so `import edgeseg.runtime` stays light.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.runtime.backend import TensorSpec, check_inputs
from edgeseg.runtime.task_adapters import DeployAdapter, DeployInfo

SCHEME = "triton://"
DEFAULT_GRPC_PORT = 8001
# gRPC statuses that mean "the server is not there (yet)", not "your request is wrong"
_RETRY_STATUSES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED")
_RETRY_WORDS = ("not ready", "is not found", "unknown model", "failed to connect", "socket closed",
                "connection reset", "server is stopping")


def is_triton_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def parse_url(url: str, model: str | None = None, need_model: bool = True) -> tuple[str, str]:
    """`triton://HOST[:PORT][/MODEL]` (+ a model name given apart) -> ("HOST:PORT", MODEL or "")."""
    parts = urlsplit(url)
    if parts.scheme != "triton" or not parts.hostname:
        raise EdgesegError(f"bad Triton URL {url!r}: use triton://HOST:PORT/MODEL (e.g. "
                           "triton://127.0.0.1:8001/fcn_nearest)")
    try:
        port = parts.port or DEFAULT_GRPC_PORT
    except ValueError:
        raise EdgesegError(f"bad port in Triton URL {url!r}: use triton://HOST:PORT/MODEL") from None
    served = parts.path.strip("/")
    if served and model and served != model:
        raise EdgesegError(f"model {model!r} and the Triton URL's model {served!r} differ: give one of them")
    name = served or model or ""
    if not name and need_model:
        raise EdgesegError(f"Triton URL {url!r} names no model: use triton://HOST:PORT/MODEL")
    return f"{parts.hostname}:{port}", name


def _status(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return str(status() if callable(status) else status or "")


def _retryable(exc: Exception) -> bool:
    text = f"{_status(exc)} {exc}".lower()
    return any(s.lower() in text for s in _RETRY_STATUSES) or any(w in text for w in _RETRY_WORDS)


def _dtype(triton_type: str) -> np.dtype:
    from tritonclient.utils import triton_to_np_dtype

    name = triton_type.removeprefix("TYPE_")
    return np.dtype(triton_to_np_dtype("BYTES" if name == "STRING" else name))


def _specs(entries: list[dict[str, Any]], batched: bool) -> list[TensorSpec]:
    """Config inputs/outputs as the model sees them: a `reshape` (num_dets: [1] -> []) wins over dims."""
    lead: tuple[int | str | None, ...] = (None,) if batched else ()
    specs = []
    for e in entries:
        dims = e["reshape"].get("shape", []) if "reshape" in e else e["dims"]
        specs.append(TensorSpec(e["name"], lead + tuple(int(d) if int(d) >= 0 else None for d in dims),
                                _dtype(e["data_type"])))
    return specs


class TritonAdapter(DeployAdapter):
    """The exported-graph adapter, fed from the server's model config instead of an ONNX file."""

    def __init__(self, url: str, info: DeployInfo) -> None:  # noqa: D107 - no model file to read
        from edgeseg.runtime.panoptic_fusion import FusionParams

        self.model_path, self.info = url, info
        self.fusion = FusionParams(mask_threshold=info.mask_threshold)


class TritonBackend:
    """Backend protocol over one model on a Triton server, with reconnect and retry."""

    name = "triton"

    def __init__(self, url: str, model: str | None = None, timeout_s: float = 60.0,
                 reconnect_s: float = 60.0, async_workers: int = 2) -> None:
        """timeout_s: the longest one inference call may take; reconnect_s: how long a call keeps
        retrying while the server is unreachable before it fails."""
        self.address, self.model = parse_url(url, model)
        self.url = f"{SCHEME}{self.address}/{self.model}"
        self.timeout_s, self.reconnect_s = timeout_s, reconnect_s
        try:
            import tritonclient.grpc as grpcclient
        except ImportError as exc:
            raise missing_extra(exc.name or "tritonclient", "triton") from None
        self._grpc = grpcclient
        self.reconnects = 0  # times a call found the server gone and got through after retrying
        self._client = grpcclient.InferenceServerClient(self.address)
        config = self._config()
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.info = DeployInfo.from_props(params, self.url)
        self.max_batch = int(config.get("max_batch_size", 0))
        self._inputs = _specs(config.get("input", []), self.max_batch > 0)
        self._outputs = _specs(config.get("output", []), self.max_batch > 0)
        self._pool = ThreadPoolExecutor(max_workers=async_workers, thread_name_prefix="triton-infer")

    def _config(self) -> dict[str, Any]:
        """The model's config; unreachable servers and unknown models are one-line errors."""
        from tritonclient.utils import InferenceServerException

        try:
            if not self._client.is_server_live(client_timeout=self.timeout_s):
                raise EdgesegError(f"Triton server at {self.address} is not live")
            index = self._client.get_model_repository_index(as_json=True)
            names = [m["name"] for m in index.get("models", [])]
            if self.model not in names:
                raise EdgesegError(f"the Triton server at {self.address} has no model {self.model!r}; it "
                                   f"serves {', '.join(sorted(names)) or 'nothing'}")
            if not self._client.is_model_ready(self.model):
                raise EdgesegError(f"model {self.model!r} on {self.address} is not ready (see its log)")
            return dict(self._client.get_model_config(self.model, as_json=True)["config"])
        except InferenceServerException as exc:
            first = str(exc).splitlines()[0]
            raise EdgesegError(f"cannot reach a Triton server at {self.address} ({first}): start one with "
                               "`edgeseg serve MODEL` or check the host and gRPC port") from None

    def adapter(self) -> TritonAdapter:
        return TritonAdapter(self.url, self.info)

    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch on the server (split to its max batch), retrying while it is unreachable."""
        feed = check_inputs(batch, self._inputs, "served model")
        size = len(next(iter(feed.values())))
        step = self.max_batch if self.max_batch > 0 else size
        parts = [self._call({k: v[i:i + step] for k, v in feed.items()}) for i in range(0, size, step)]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def _call(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tritonclient.utils import InferenceServerException, np_to_triton_dtype

        requests = []
        for name, value in feed.items():
            item = self._grpc.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
            item.set_data_from_numpy(np.ascontiguousarray(value))
            requests.append(item)
        outputs = [self._grpc.InferRequestedOutput(s.name) for s in self._outputs]
        deadline, attempt = time.monotonic() + self.reconnect_s, 0
        while True:
            try:
                result = self._client.infer(self.model, requests, outputs=outputs,
                                            client_timeout=self.timeout_s)
                if attempt:
                    self.reconnects += 1
                return {s.name: self._shaped(result.as_numpy(s.name), s) for s in self._outputs}
            except InferenceServerException as exc:
                first = str(exc).splitlines()[0]
                if not _retryable(exc):
                    raise EdgesegError(f"{self.url} refused the request: {first}") from None
                if time.monotonic() >= deadline:
                    raise EdgesegError(f"Triton server at {self.address} unreachable for "
                                       f"{self.reconnect_s:g} s ({first}): is the server running?") from None
            time.sleep(min(2.0, 0.05 * 2 ** attempt))
            attempt += 1
            if attempt % 4 == 0:  # a fresh channel, in case the old one is stuck on a dead connection
                self._client.close()
                self._client = self._grpc.InferenceServerClient(self.address)

    def _shaped(self, value: np.ndarray, spec: TensorSpec) -> np.ndarray:
        """An output in the model's own shape (undoes the config's reshape, e.g. num_dets [B,1] -> [B])."""
        if self.max_batch <= 0:
            return value
        return value.reshape((len(value), *[d if isinstance(d, int) else -1 for d in spec.shape[1:]]))

    def infer_async(self, batch: Mapping[str, np.ndarray]) -> Future[dict[str, np.ndarray]]:
        """Start one batch on the worker pool (errors surface through the future)."""
        return self._pool.submit(self.infer, batch)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()


def deploy_props(info: DeployInfo) -> dict[str, str]:
    """DeployInfo -> the `edgeseg.*` strings DeployInfo.from_props reads (the server writes these)."""
    return {"edgeseg.model": info.model, "edgeseg.task": info.task,
            "edgeseg.classes": json.dumps(info.classes),
            "edgeseg.input": json.dumps({"name": info.input_name, "height": info.height,
                                         "width": info.width}),
            "edgeseg.outputs": json.dumps(info.outputs), "edgeseg.mask_threshold": repr(info.mask_threshold),
            "edgeseg.ops": info.ops, "edgeseg.labels": info.labels.dumps()}

