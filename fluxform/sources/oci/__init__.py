"""OCI registries: the distribution API client fluxform pulls charts and artifacts with.

registry.py   registry v2 API: tags, manifests, blobs (pulls)
"""
