"""Make the `tensorrt-stubs` package usable by mypy.

Why: TensorRT itself cannot be installed on machines without NVIDIA's libraries, so the engine
builder and the TensorRT backend are type-checked against the community stubs instead. The stubs
(installed with `pip install --no-deps tensorrt-stubs==10.13.0.35.1`, because their dependency is the
real tensorrt) are generated and have defects that stop mypy before it reads our code:

* parameters named `in` (a Python keyword: a syntax error) -> renamed `in_`;
* `add_scale_nd` has a parameter without a default after defaulted ones (a syntax error) -> the
  defaults before it are dropped, so every argument is required (stricter, never looser);
* `import tensorrt_libs` (a runtime-only package that does not exist here) -> removed.

Also, the `tensorrt/` folder has no `py.typed`, so mypy would treat it as untyped and make every
TensorRT name `Any`. This script writes repaired copies as PEP 561 stub-only packages
(`tensorrt-stubs/`, `tensorrt_bindings-stubs/`) next to the installed stubs, where mypy finds them
first; the installed files are left untouched. It is idempotent. Remaining type errors inside the
stubs are silenced by `ignore_errors` in pyproject.toml; errors in our code are reported.

Usage: python tools/repair_trt_stubs.py   (run with the interpreter of the venv mypy uses)
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

STUB_DIST = "tensorrt-stubs"
PACKAGES = ("tensorrt", "tensorrt_bindings")
KEYWORD_PARAM = re.compile(r"(?<=[(,])(\s*)in(\s*:)")
DEFAULT = re.compile(r"\s*=\s*[^,()\[\]]+$")


def _split_params(params: str) -> list[str]:
    """Split a parameter list at top-level commas (types like dict[str, int] contain commas)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(params):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(params[start:i])
            start = i + 1
    parts.append(params[start:])
    return parts


def _fix_default_order(line: str) -> str:
    """Drop defaults that precede a required parameter (only on one-line `def`s that need it)."""
    head, sep, rest = line.partition("(")
    params, close, tail = rest.rpartition(") ->")
    if not sep or not close:
        return line
    parts = _split_params(params)
    required = [i for i, p in enumerate(parts) if "=" not in p and p.strip() and p.strip()[0] != "*"]
    if not required:
        return line
    last_required = required[-1]
    fixed = [DEFAULT.sub("", p) if i < last_required else p for i, p in enumerate(parts)]
    return f"{head}({','.join(fixed)}{close}{tail}"


def repair(text: str) -> tuple[str, dict[str, int]]:
    """Return the repaired stub text and how many fixes of each kind were applied."""
    counts = {"keyword_params": 0, "default_order": 0, "tensorrt_libs": 0}
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "import tensorrt_libs as tensorrt_libs":
            counts["tensorrt_libs"] += 1
            continue
        if stripped.startswith("__all__") and "'tensorrt_libs'" in line:
            line = line.replace("'tensorrt_libs', ", "").replace(", 'tensorrt_libs'", "")
            counts["tensorrt_libs"] += 1
        if stripped.startswith("def "):
            new = KEYWORD_PARAM.sub(r"\1in_\2", line)
            counts["keyword_params"] += new != line
            line = new
            try:
                ast.parse(line.strip() + " ...")
            except SyntaxError:
                new = _fix_default_order(line)
                counts["default_order"] += new != line
                line = new
        out.append(line)
    return "\n".join(out) + "\n", counts


def installed_stub_files() -> dict[str, Path]:
    """Map 'package/relative.pyi' -> absolute path for the installed tensorrt-stubs files."""
    try:
        dist = metadata.distribution(STUB_DIST)
    except metadata.PackageNotFoundError:
        sys.exit(f"{STUB_DIST} is not installed: run `pip install --no-deps {STUB_DIST}==10.13.0.35.1` first")
    files = {}
    for f in dist.files or []:
        if f.suffix == ".pyi" and f.parts[0] in PACKAGES:
            files[str(f)] = Path(str(dist.locate_file(f)))
    return files


def main() -> int:
    files = installed_stub_files()
    if not files:
        sys.exit(f"{STUB_DIST} lists no .pyi files for {PACKAGES}: unexpected layout, update this script")
    totals: dict[str, int] = {}
    for rel, src in sorted(files.items()):
        package, _, rest = rel.partition("/")
        dst = src.parents[len(Path(rest).parts) - 1].parent / f"{package}-stubs" / rest
        text, counts = repair(src.read_text(encoding="utf-8"))
        try:
            ast.parse(text, filename=str(dst))
        except SyntaxError as err:
            sys.exit(f"{rel} still has a syntax error after repair ({err}): update this script")
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text, encoding="utf-8")
        for key, n in counts.items():
            totals[key] = totals.get(key, 0) + n
    print(f"repaired {len(files)} stub files: " + ", ".join(f"{k}={v}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
