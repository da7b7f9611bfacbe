# Two entry points for a fresh machine: `make demo` (runtime only, no torch) and `make test` (everything).
PYTHON ?= python3
VENV ?= .venv
DEMO_VENV ?= .venv-demo
PY := $(VENV)/bin/python
DEMO_PY := $(DEMO_VENV)/bin/python
PYTEST_MARKS ?= not slow and not needs_cuda and not needs_trt and not needs_camera
PYTEST_ARGS ?=
DEMO_DIR ?= out/demo
DEMO_MODEL ?= panoptic_rcnn
# Every environment the Makefile makes installs these exact versions; `make lock` updates them on purpose.
CONSTRAINTS := requirements/constraints.txt
TEST_EXTRAS := dev,ort,video,train,deploy,rtx,triton

.PHONY: demo test test-slow zoo-metrics lint typecheck cuda-check gpu-check trt-rtx-plugins venv demo-venv lock clean

$(VENV)/.installed: setup.py pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[$(TEST_EXTRAS)]"
	# the [serve] server binary: its wheel asks for numpy<2 in metadata only (docs/serve.md), so it
	# goes in without its dependencies and the edgeseg serve tests run instead of skipping
	$(PY) -m pip install -q --no-deps -c $(CONSTRAINTS) nvidia-pytriton
	touch $@

$(DEMO_VENV)/.installed: setup.py pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_PY) -m pip install -q --upgrade pip setuptools wheel
	$(DEMO_PY) -m pip install -q -c $(CONSTRAINTS) -e ".[ort,video]"
	touch $@

# Re-resolve every pin in a throw-away venv (newest versions setup.py allows, torch kept at its pin)
# and rewrite $(CONSTRAINTS); review the diff and run `make test` before committing it.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip setuptools wheel
	.venv-lock/bin/pip install -q -e ".[$(TEST_EXTRAS)]" "torch==2.14.1" "torchvision==0.29.1"
	.venv-lock/bin/pip install -q --no-deps nvidia-pytriton
	{ head -2 $(CONSTRAINTS); .venv-lock/bin/pip freeze --exclude-editable | grep -v '^edgeseg'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf .venv-lock

venv: $(VENV)/.installed
demo-venv: $(DEMO_VENV)/.installed

# The zoo's panoptic ONNX graph on a generated 120-frame ShapesWorld clip, ONNX Runtime on the CPU, no torch.
demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/edgeseg data shapes --out $(DEMO_DIR) --split val --images 100 --seed 7 --video-frames 120 --force
	$(DEMO_VENV)/bin/edgeseg eval --gt $(DEMO_DIR) --split val --pred gt --task all
	$(DEMO_VENV)/bin/edgeseg run $(DEMO_MODEL) --source $(DEMO_DIR)/videos/val/clip_0.mp4 \
		--sink $(DEMO_DIR)/demo.mp4 --sink $(DEMO_DIR)/results.jsonl --min-score 0.5

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check edgeseg tests benchmarks examples

typecheck: $(VENV)/.installed
	$(PY) -m pip install -q --no-deps tensorrt-stubs==10.13.0.35.1 && $(PY) tools/repair_trt_stubs.py
	$(VENV)/bin/mypy edgeseg

test: lint typecheck cuda-check
	$(PY) -m pytest -m "$(PYTEST_MARKS)" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treat as a failure"; exit 1; fi; exit $$rc

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

# Every metric in edgeseg/zoo/zoo.json, re-measured from a fresh clone: the val split (500 images,
# seed 2, 320 px) is generated under out/zoo-metrics and each zoo model scored on the CPU (~25 min on
# one core). Default: fail when a figure differs by more than 0.005; ZOO_METRICS_MODE=--write records.
ZOO_METRICS_MODE ?= --check
zoo-metrics: $(VENV)/.installed
	$(PY) -m edgeseg.models.zoo_metrics --data out/zoo-metrics/val $(ZOO_METRICS_MODE)

# nvcc compile of the CUDA kernels, warnings as errors (no GPU needed); skipped where nvcc is absent.
cuda-check:
	@if command -v nvcc >/dev/null 2>&1; then plugins/cuda_check.sh; \
	else echo "nvcc not found: skipping CUDA compile check"; fi

# On a machine with an NVIDIA GPU and nvcc (no TensorRT): kernels built for it, needs_cuda tests,
# CUDA benchmark, compute-sanitizer memcheck/racecheck; one report (out/gpu-check/report.md), <= 8 min.
gpu-check: $(VENV)/.installed
	PYTHON=$(PY) tools/gpu_check.sh

# Every plugin node of every zoo graph parsed alone by TensorRT for RTX with our plugin library loaded
# (docs/plugins.md). Needs TensorRT's C++ headers, which no registry ships: fetch the open-source
# repository at a tag and pass its include/ folder; never commit them.
trt-rtx-plugins: $(VENV)/.installed
	@test -n "$(HEADERS)" || { echo "usage: make trt-rtx-plugins HEADERS=/path/to/TensorRT/include"; exit 2; }
	plugins/check_trt_headers.sh "$(HEADERS)" build/rtx-plugins
	$(PY) tools/rtx_plugin_nodes.py build/rtx-plugins/libedgeseg_trt_plugins.so

clean:
	rm -rf $(VENV) $(DEMO_VENV) build out *.egg-info
