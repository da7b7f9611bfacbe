"""edgeseg.surgery: ONNX graph passes (plugin insertion, foreign-pattern rewrites, folding), lint, inspect.

Works on ONNX files only (no torch): see `registry.PASSES` for the passes and `command` for the verbs.
"""
