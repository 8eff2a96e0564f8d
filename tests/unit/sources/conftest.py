"""Shared fixtures for source tests: the session's docker-registry process."""

from tests.support.registry import registry

__all__ = ["registry"]
