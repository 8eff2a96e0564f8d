"""Flux Kustomizations as kustomize-controller builds them, and the fleet walk that finds them.

discover.py        walk a fleet from its start path: build, find Flux objects, build those
spec.py            typed views of Kustomizations and their source references
generate.py        the kustomization.yaml Flux actually builds (generator, spec fields merged)
closure.py         every file a build may read (cache key, changed-only index)
build.py           one Kustomization's directory built with real kustomize, cached
cache.py           the content-addressed build cache
postbuild.py       kustomize output -> desired objects (decrypt, substitute, normalise, labels)
substitute.py      postBuild variables; envsubst.py + envsubst_funcs.py: Flux's envsubst engine
normalize.py       Flux's object normalisation before apply
"""
