"""The engine artifact: a cache-keyed file name and the `model.engine.json` sidecar beside it.

Why: a TensorRT engine is only valid for the exact TensorRT version and GPU that built it, and
nothing inside the plan file says so in a way we can read without deserializing it (which may
crash on a mismatch). The sidecar records what was built, for which machine and how; the cache
key (model hash, precision, GPU, TensorRT version) is in the file name, so engines for several
machines can sit side by side and `build` finds a reusable one. This module is stdlib-only, so
the torch-free runtime uses it to refuse a mismatched engine before TensorRT ever sees it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.trt.compat import runtime_name

SIDECAR_FORMAT = "edgeseg.engine/1"
SIDECAR_SUFFIX = ".json"


def gpu_slug(gpu_name: str) -> str:
    """A file-name-safe short GPU name: 'NVIDIA GeForce RTX 4090' -> 'geforce-rtx-4090'."""
    name = re.sub(r"^nvidia\s+", "", gpu_name.strip(), flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "gpu"


@dataclass(frozen=True)
class Target:
    """The machine an engine is for: the TensorRT flavour and version, and the GPU.

    An ahead-of-time engine (TensorRT for RTX) is for no one GPU but for every GPU of the compute
    capabilities it holds code for: `aot_capabilities` lists them (e.g. (86, 89, 120)), `gpu_name`
    is empty and `compute_capability` is the lowest of them.
    """

    tensorrt_version: str  # full version as TensorRT reports it, e.g. "10.3.0.30" (RTX: "1.7.1.116")
    gpu_name: str
    compute_capability: tuple[int, int]
    flavour: str = "tensorrt"  # "tensorrt" | "rtx"
    aot_capabilities: tuple[int, ...] = ()

    @classmethod
    def ahead_of_time(cls, flavour: str, tensorrt_version: str, capabilities: tuple[int, ...]) -> Target:
        lowest = min(capabilities)
        return cls(tensorrt_version, "", (lowest // 10, lowest % 10), flavour, tuple(sorted(capabilities)))

    @property
    def runtime_name(self) -> str:
        return runtime_name(self.flavour, self.tensorrt_version)

    def describe(self) -> str:
        if self.aot_capabilities:
            ccs = ", ".join(f"{c // 10}.{c % 10}" for c in self.aot_capabilities)
            return f"{self.runtime_name} on any GPU of compute capability {ccs}"
        major, minor = self.compute_capability
        return f"{self.runtime_name} on {self.gpu_name} (compute capability {major}.{minor})"

    def slug(self) -> str:
        """The machine part of an engine file name: 'orin-sm87.trt10.3.0' or 'sm86-sm89.rtx1.7.1'."""
        version = ".".join(self.tensorrt_version.split(".")[:3])
        runtime = f"{'rtx' if self.flavour == 'rtx' else 'trt'}{version}"
        if self.aot_capabilities:
            return "-".join(f"sm{c}" for c in self.aot_capabilities) + "." + runtime
        major, minor = self.compute_capability
        return f"{gpu_slug(self.gpu_name)}-sm{major}{minor}.{runtime}"


@dataclass(frozen=True)
class CacheKey:
    """What makes two engines interchangeable. Build options are compared via the sidecar."""

    model_sha256: str
    precision: str
    target: Target

    def file_name(self, model_name: str) -> str:
        """e.g. 'maskrcnn_shapes.3f2a9c1b0d4e.int8.orin-sm87.trt10.3.0.engine'."""
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("._") or "model"
        return f"{stem}.{self.model_sha256[:12]}.{self.precision}.{self.target.slug()}.engine"


@dataclass
class EngineMetadata:
    """The sidecar's content (DESIGN.md, Artifacts). Optional facts are None when unknown."""

    model_name: str
    model_sha256: str
    precision: str
    target: Target
    engine_sha256: str = ""
    task: str | None = None
    classes: list[str] | None = None
    input_size: list[int] | None = None  # [height, width]
    labels: dict[str, Any] | None = None  # the model's label set (edgeseg.labels JSON); None: older sidecars
    vocabulary: list[str] | None = None  # dense captioning: token strings by id (edgeseg.vocabulary)
    plugin_library_sha256: str | None = None
    build_flags: dict[str, Any] = field(default_factory=dict)
    calibration_set_sha256: str | None = None
    accuracy_vs_fp32: dict[str, Any] | None = None  # e.g. {"metric": "mask_ap", "fp32": 41.2, "engine": 40.7}
    edgeseg_version: str = ""
    created: str = ""

    @property
    def key(self) -> CacheKey:
        return CacheKey(self.model_sha256, self.precision, self.target)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"]["compute_capability"] = list(self.target.compute_capability)
        data["target"]["aot_capabilities"] = list(self.target.aot_capabilities)
        return {"format": SIDECAR_FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "sidecar") -> EngineMetadata:
        if data.get("format") != SIDECAR_FORMAT:
            raise EdgesegError(
                f"{source} is not an edgeseg engine sidecar (format {data.get('format')!r}, expected "
                f"{SIDECAR_FORMAT!r}): rebuild the engine with `edgeseg build`"
            )
        try:
            fields = {k: v for k, v in data.items() if k != "format"}
            target = fields.pop("target")
            major, minor = target["compute_capability"]
            fields["target"] = Target(
                str(target["tensorrt_version"]),
                str(target["gpu_name"]),
                (int(major), int(minor)),
                str(target.get("flavour", "tensorrt")),
                tuple(int(c) for c in target.get("aot_capabilities", ())),
            )
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as err:
            message = f"{source} is damaged ({err!r}): rebuild the engine with `edgeseg build`"
            raise EdgesegError(message) from None


def sidecar_path(engine_path: Path) -> Path:
    """`model.engine` -> `model.engine.json`."""
    return engine_path.with_name(engine_path.name + SIDECAR_SUFFIX)


def write_sidecar(engine_path: Path, meta: EngineMetadata) -> Path:
    path = sidecar_path(engine_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_sidecar(engine_path: Path) -> EngineMetadata:
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise EdgesegError(
            f"{engine_path} has no sidecar {path.name}, so it cannot be checked against this machine: "
            "rebuild it with `edgeseg build` (engines from other tools: pass require_sidecar=False)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise EdgesegError(f"cannot read {path}: {err}; rebuild the engine with `edgeseg build`") from None
    if not isinstance(data, dict):
        raise EdgesegError(f"{path} is not a JSON object: rebuild the engine with `edgeseg build`")
    return EngineMetadata.from_json(data, source=str(path))


def mismatch(meta: EngineMetadata, here: Target) -> str | None:
    """Why the engine cannot run here (None when it can).

    Plans are tied to the exact TensorRT build and to the GPU model: a different patch version or a
    different GPU with the same compute capability can still fail or mis-tune, so all three match.
    Ahead-of-time (TensorRT for RTX) engines hold code for several capabilities and no one GPU.
    """
    built = meta.target
    problems = []
    if built.flavour != here.flavour:
        problems.append(f"built for {built.runtime_name}, loaded with {here.runtime_name}")
    elif built.tensorrt_version != here.tensorrt_version:
        problems.append(f"TensorRT {built.tensorrt_version} != {here.tensorrt_version}")
    if built.aot_capabilities:  # an ahead-of-time engine runs on any GPU it holds code for
        here_cc = here.compute_capability[0] * 10 + here.compute_capability[1]
        if here_cc not in built.aot_capabilities:
            major, minor = here.compute_capability
            problems.append(f"compute capability {major}.{minor} is not among those built for")
        return "; ".join(problems) or None
    if built.compute_capability != here.compute_capability:
        problems.append(
            "compute capability {}.{} != {}.{}".format(*built.compute_capability, *here.compute_capability)
        )
    if built.gpu_name != here.gpu_name:
        problems.append(f"GPU {built.gpu_name!r} != {here.gpu_name!r}")
    return "; ".join(problems) or None


def check_engine_matches(engine_path: Path, meta: EngineMetadata, here: Target) -> None:
    """Refuse an engine built for another TensorRT or GPU, or whose file is not the one recorded."""
    reason = mismatch(meta, here)
    if reason:
        raise EdgesegError(
            f"{engine_path.name} was built for {meta.target.describe()}, this machine has {here.describe()} "
            f"({reason}): "
            f"rebuild it here with `edgeseg build {meta.model_name} --precision {meta.precision}`"
        )
    if meta.engine_sha256 and sha256_file(engine_path) != meta.engine_sha256:
        raise EdgesegError(
            f"{engine_path.name} does not match the hash in its sidecar (the file was replaced or damaged): "
            f"rebuild it with `edgeseg build {meta.model_name} --precision {meta.precision}`"
        )


def rebuild_reason(engine_path: Path, wanted: CacheKey, build_flags: dict[str, Any]) -> str | None:
    """Why an existing engine at `engine_path` cannot be reused for this build (None: reuse it)."""
    if not engine_path.is_file():
        return "no engine yet"
    try:
        meta = read_sidecar(engine_path)
    except EdgesegError as err:
        return str(err)
    build_flags = json.loads(json.dumps(build_flags))  # tuples -> lists, as stored
    if meta.key != wanted:
        return "its sidecar describes another model, precision or machine"
    if meta.build_flags != build_flags:
        keys = set(meta.build_flags) | set(build_flags)
        changed = sorted(k for k in keys if meta.build_flags.get(k) != build_flags.get(k))
        return "build options changed: " + ", ".join(changed)
    if meta.engine_sha256 and sha256_file(engine_path) != meta.engine_sha256:
        return "the engine file does not match its sidecar's hash"
    return None
