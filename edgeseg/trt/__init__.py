"""edgeseg.trt: the thin TensorRT layer that both the engine builder and the runtime stand on.

Version shim (10.3-10.x, 11.x, TensorRT for RTX), plugin-library loading, logger hooks, the engine
sidecar and the CUDA bindings. No torch, no models, no build code: a robot's runtime imports this
package and `edgeseg.runtime`, never `edgeseg.engine`.
"""
