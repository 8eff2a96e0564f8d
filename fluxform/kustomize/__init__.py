"""The real kustomize, the engine behind every build (Flux Kustomizations and Helm post-renderers).

engine.py     which engine builds (FLUXFORM_KUSTOMIZE_ENGINE), and `kustomize_build`, the one call
binary.py     `kubectl kustomize` (or `kustomize build`) as a subprocess per build
inprocess.py  kustomize's Go API (pykustomize) loaded once, in resident workers
worker.py     the resident worker's main loop
"""
