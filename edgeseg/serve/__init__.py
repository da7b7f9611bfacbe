"""Serving edgeseg models on NVIDIA Triton Inference Server (`edgeseg serve`, model repositories)."""
