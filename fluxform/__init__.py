"""fluxform: Terraform-style plan/apply for Flux GitOps repositories."""

__version__ = "0.1.0"
__all__ = ["__version__"]
