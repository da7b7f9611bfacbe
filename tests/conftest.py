"""Shared fixtures. Marks (slow, needs_cuda, needs_trt, needs_camera) are declared in pyproject.toml."""
