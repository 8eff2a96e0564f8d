"""The real kustomize, the engine behind every build (Flux Kustomizations and Helm post-renderers).

binary.py     `kubectl kustomize` (or `kustomize build`) as a subprocess
"""
