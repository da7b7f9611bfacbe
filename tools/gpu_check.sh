#!/usr/bin/env bash
# `make gpu-check`: the GPU rung of the test ladder on any machine with an NVIDIA GPU and nvcc
# (TensorRT not needed). In order, each step bounded so the whole fits in 8 minutes:
#   1. build the kernels library (CMake, for this machine's GPU);
#   2. every needs_cuda test (kernels == CPU twin and == torchvision's CUDA ops, FP32 and FP16,
#      adversarial cases);
#   3. the CUDA benchmark (benchmarks/bench_cuda_ops.py: RoIAlign >= 1.0x, NMS >= 2x torchvision);
#   4. compute-sanitizer memcheck, then racecheck, over the same tests.
# Writes one Markdown report ($EDGESEG_GPU_REPORT, default out/gpu-check/report.md) and exits 0
# only if every step passed; with no GPU it writes the reason to the report and exits 2.
set -uo pipefail
cd "$(dirname "$0")/.."

REPORT="${EDGESEG_GPU_REPORT:-out/gpu-check/report.md}"
PY="${PYTHON:-.venv/bin/python}"
NVIDIA_SMI="${NVIDIA_SMI:-nvidia-smi}"
BUILD=build/gpu-check
BUDGET_S="${EDGESEG_GPU_BUDGET_S:-480}"
START=$(date +%s)
FAILED=0
mkdir -p "$(dirname "$REPORT")"
LOGS="$(dirname "$REPORT")/logs"
mkdir -p "$LOGS"

report() { printf '%s\n' "$@" >> "$REPORT"; }

# Seconds left of the budget, at most $1 (every step gets its own cap and the remainder).
left() {
  local rest=$((BUDGET_S - ($(date +%s) - START)))
  [ "$rest" -lt "$1" ] && echo "$rest" || echo "$1"
}

# step NAME CAP_S COMMAND...: runs COMMAND under a time cap, logs it, adds a report row.
step() {
  local name="$1" cap="$2"
  shift 2
  local log="$LOGS/${name// /_}.log" t0 rc status limit
  limit=$(left "$cap")
  if [ "$limit" -le 5 ]; then
    report "| $name | SKIP | out of the ${BUDGET_S} s budget | 0 |"
    FAILED=1
    return 1
  fi
  t0=$(date +%s)
  timeout "$limit" "$@" > "$log" 2>&1
  rc=$?
  status=PASS
  [ "$rc" -eq 0 ] || { status=FAIL; FAILED=1; }
  [ "$rc" -eq 124 ] && status="FAIL (timed out after ${limit} s)"
  report "| $name | $status | \`$*\` (log: $log) | $(($(date +%s) - t0)) |"
  return "$rc"
}

{
  echo "# edgeseg gpu-check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$REPORT"

if ! command -v "$NVIDIA_SMI" > /dev/null 2>&1 || ! gpus=$("$NVIDIA_SMI" -L 2>&1) || ! grep -q "^GPU " <<< "$gpus"; then
  why="no NVIDIA GPU: \`$NVIDIA_SMI -L\` found none (install the NVIDIA driver, or run this on a machine with a GPU)"
  report "- result: NOT RUN: $why"
  echo "gpu-check: $why; report: $REPORT" >&2
  exit 2
fi
if ! command -v nvcc > /dev/null 2>&1; then
  report "- result: NOT RUN: nvcc not found (install the CUDA toolkit and put its bin/ on PATH)"
  echo "gpu-check: nvcc not found; report: $REPORT" >&2
  exit 2
fi
{
  echo "- GPU: $(head -1 <<< "$gpus")"
  echo "- driver: $("$NVIDIA_SMI" --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)"
  echo "- nvcc: $(nvcc --version | tail -2 | head -1)"
  echo "- python: $("$PY" --version 2>&1)"
  echo
  echo "| step | status | command | seconds |"
  echo "|---|---|---|---|"
} >> "$REPORT"

# 1. The kernels library for this GPU (CMake >= 3.24 knows "native").
step "build kernels" 200 bash -c "cmake -S plugins -B $BUILD -DCMAKE_CUDA_ARCHITECTURES=native -DEDGESEG_WERROR=ON \
  && cmake --build $BUILD -j --target edgeseg_kernels"
export EDGESEG_PLUGIN_DIR="$PWD/$BUILD"  # the harness and the benchmark load this library

# 2-4. Tests, benchmark, sanitizers.
TESTS=(-m pytest -p no:cacheprovider -q -m needs_cuda -rs tests/plugins/test_cuda_kernels.py)
step "needs_cuda tests" 90 "$PY" "${TESTS[@]}"
step "benchmark" 60 "$PY" benchmarks/bench_cuda_ops.py --iters 30
SANITIZER="$(command -v compute-sanitizer || true)"
if [ -z "$SANITIZER" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
  SANITIZER=/usr/local/cuda/bin/compute-sanitizer
fi
if [ -z "$SANITIZER" ]; then
  report "| memcheck, racecheck | FAIL | compute-sanitizer not found (it ships with the CUDA toolkit) | 0 |"
  FAILED=1
else
  # The FPN-sized and torchvision cases are skipped under the sanitizers (minutes there, no new paths).
  SANITIZED=(-m pytest -p no:cacheprovider -q -m needs_cuda -k "not fpn_sized and not torchvision"
    tests/plugins/test_cuda_kernels.py)
  step "memcheck" 70 "$SANITIZER" --tool memcheck --error-exitcode 1 --print-limit 20 "$PY" "${SANITIZED[@]}"
  step "racecheck" 70 "$SANITIZER" --tool racecheck --error-exitcode 1 --print-limit 20 "$PY" "${SANITIZED[@]}"
fi

{
  echo
  echo "## needs_cuda tests (summary)"
  echo '```'
  tail -5 "$LOGS/needs_cuda_tests.log" 2>/dev/null
  echo '```'
  echo "## benchmark"
  echo '```'
  cat "$LOGS/benchmark.log" 2>/dev/null
  echo '```'
  echo
  echo "- total: $(($(date +%s) - START)) s of a ${BUDGET_S} s budget"
  [ "$FAILED" -eq 0 ] && echo "- result: PASS" || echo "- result: FAIL (see the logs named above)"
} >> "$REPORT"
echo "gpu-check: $([ "$FAILED" -eq 0 ] && echo passed || echo FAILED); report: $REPORT"
exit "$FAILED"
