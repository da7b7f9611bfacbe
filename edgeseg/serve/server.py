"""Start and stop the `tritonserver` binary that the nvidia-pytriton wheel ships, on a model repository.

Why the binary rather than PyTriton's `Triton.bind`: the bind path hands outputs to the bundled
Python-backend stub as numpy arrays, and those stubs (built against numpy 1) return empty tensors
for numpy 2 arrays, which this project pins; our repository's model passes DLPack instead. The stub
links libpython by name, so LD_LIBRARY_PATH puts the running interpreter's own library folder
first (a non-system Python otherwise mixes two standard libraries), and PATH puts this
environment's bin first so the stub imports this environment's packages (edgeseg, onnxruntime).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edgeseg.errors import EdgesegError, missing_extra


@dataclass(frozen=True)
class Ports:
    """Triton's three endpoints (its own defaults)."""

    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002


def triton_home() -> Path:
    """The folder holding the bundled tritonserver (bin/, backends/, python_backend_stubs/)."""
    import importlib.util

    spec = importlib.util.find_spec("pytriton")  # located, not imported: its import pulls in a lot
    if spec is None or not spec.submodule_search_locations:
        raise missing_extra("nvidia-pytriton", "serve")
    home = Path(list(spec.submodule_search_locations)[0]) / "tritonserver"
    if not (home / "bin" / "tritonserver").is_file():
        raise EdgesegError(f"nvidia-pytriton is installed but ships no tritonserver binary in {home}: "
                           "reinstall it with `pip install 'edgeseg[serve]'` on Linux x86_64/aarch64")
    return home


def check_ports(host: str, ports: Ports) -> None:
    """Refuse ports already taken (or repeated) with the option that moves each, before starting."""
    named = {"--http-port": ports.http, "--grpc-port": ports.grpc, "--metrics-port": ports.metrics}
    if len(set(named.values())) != len(named):
        raise EdgesegError(f"HTTP, gRPC and metrics ports must differ, got {named}")
    for option, port in named.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise EdgesegError(f"port {port} on {host} is in use or not allowed ({exc.strerror}): pick a "
                                   f"free one with {option}") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free now (tests and examples; another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _backends(home: Path, into: Path) -> Path:
    """A backend folder whose python backend has the stub for this interpreter's version."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = home / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise EdgesegError(f"the bundled Triton has no Python-backend stub for Python {version}: use a "
                           "Python it ships stubs for (see pytriton/tritonserver/python_backend_stubs)")
    python = into / "python"
    python.mkdir(parents=True, exist_ok=True)
    for path in (*(home / "backends" / "python").glob("*.*"), stub):
        if path.is_file() and not (python / path.name).exists():
            (python / path.name).symlink_to(path)
    return into


def server_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    libs = [str(sysconfig.get_config_var("LIBDIR") or ""), str(home.parent.parent / "nvidia_pytriton.libs"),
            env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = ":".join(p for p in libs if p)
    env["PATH"] = f"{Path(sys.exec_prefix) / 'bin'}:{env.get('PATH', '')}"
    return env


class TritonServer:
    """A running tritonserver on `repository`: `with TritonServer(repo, ports=...) as server: ...`."""

    def __init__(self, repository: str | Path, host: str = "127.0.0.1", ports: Ports = Ports(),
                 startup_timeout_s: float = 120.0, log_path: str | Path | None = None) -> None:
        self.repository, self.host, self.ports = Path(repository), host, ports
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else self.repository.parent / "tritonserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._work: tempfile.TemporaryDirectory[str] | None = None

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.ports.grpc}"

    def start(self) -> TritonServer:
        """Start the server and wait until every model is ready; failures raise with the server's error."""
        home = triton_home()
        if not self.repository.is_dir():
            raise EdgesegError(f"model repository {self.repository} not found")
        check_ports(self.host, self.ports)
        self._work = tempfile.TemporaryDirectory(prefix="edgeseg-triton-")
        backends = _backends(home, Path(self._work.name) / "backends")
        command = [str(home / "bin" / "tritonserver"), f"--model-repository={self.repository}",
                   f"--backend-directory={backends}", f"--http-address={self.host}",
                   f"--http-port={self.ports.http}", f"--grpc-address={self.host}",
                   f"--grpc-port={self.ports.grpc}", f"--metrics-address={self.host}",
                   f"--metrics-port={self.ports.metrics}", "--allow-gpu-metrics=false",
                   "--exit-on-error=true", "--exit-timeout-secs=5", "--log-verbose=0"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=server_env(home), start_new_session=True)
        self._wait_ready()
        return self

    def _listening(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1.0):
                return True
        except OSError:
            return False

    def _wait_ready(self) -> None:
        """Until health says ready and the gRPC and metrics ports accept connections: Triton starts its
        endpoints one after the other, so HTTP can answer before the metrics port listens."""
        url = f"http://{self.host}:{self.ports.http}/v2/health/ready"
        deadline = time.monotonic() + self.startup_timeout_s
        assert self.process is not None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.stop()
                raise EdgesegError(f"tritonserver exited ({code}) while starting: "
                                   f"{self.first_error() or 'see ' + str(self.log_path)}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as reply:
                    others = (self.ports.grpc, self.ports.metrics)
                    if reply.status == 200 and all(self._listening(port) for port in others):
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise EdgesegError(f"tritonserver not ready after {self.startup_timeout_s:g} s: "
                           f"{self.first_error() or 'see ' + str(self.log_path)}")

    def first_error(self) -> str:
        """The server log's first error line that says something (not the CPU-only GPU warnings)."""
        if not self.log_path.is_file():
            return ""
        quiet = ("CudaDriverHelper", "NVML", "DCGM", "config modification time", "pinned memory")
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("E") and not any(q in line for q in quiet):
                return line.split("] ", 1)[-1].strip().strip('"')
        return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGINT (Triton drains in-flight requests), then SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._work is not None:
            self._work.cleanup()
            self._work = None

    def kill(self) -> None:
        """SIGKILL, as a crash or an evicted pod ends it: nothing in flight is answered."""
        process = self.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.stop()

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

