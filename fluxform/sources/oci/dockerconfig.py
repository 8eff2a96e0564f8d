"""Registry credentials where `docker login` (and `flux`, `helm`, `oras`) leave them.

`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: a `credHelpers` entry for the
host, else `credsStore`, else the `auths` entry (`auth` = base64 user:password, or
`username`/`password`, or an `identitytoken` for the OAuth2 refresh flow). Keys of `auths`
may be bare hosts or URLs (`https://index.docker.io/v1/` for Docker Hub). A missing file
means anonymous access; an unreadable one is an error naming it.

    creds = registry_credentials("ghcr.io")   # Credentials | None
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

from fluxform.errors import SourceError, ToolError
from fluxform.sources.oci.registry import Credentials
from fluxform.tool import find_executable, run_tool

__all__ = ["docker_config_path", "registry_credentials"]

_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def registry_credentials(host: str, config: Path | None = None) -> Credentials | None:
    path = config or docker_config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read docker config {path}", detail=str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise SourceError(f"docker config {path} is not a JSON object")
    helper = (data.get("credHelpers") or {}).get(host) or data.get("credsStore")
    if isinstance(helper, str) and helper:
        found = _from_helper(helper, host, path)
        if found is not None:
            return found
    return _from_auths(data.get("auths") or {}, host, path)


def _from_auths(auths: Any, host: str, path: Path) -> Credentials | None:
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _host_of(str(key)) != _canonical(host) or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return Credentials("<token>", "", identity_token=str(entry["identitytoken"]))
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]))
        try:
            decoded = base64.b64decode(str(entry.get("auth") or ""), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SourceError(f"docker config {path}: auths entry {key} has an invalid `auth` value") from None
        user, sep, password = decoded.partition(":")
        if sep:
            return Credentials(user, password)
    return None


def _from_helper(helper: str, host: str, path: Path) -> Credentials | None:
    """`docker-credential-<helper> get` with the server URL on stdin (the helper protocol)."""
    executable = find_executable(f"docker-credential-{helper}")
    if executable is None:
        raise SourceError(f"docker config {path} names credential helper {helper!r}, which is not installed")
    try:
        result = run_tool([executable, "get"], tool=f"docker-credential-{helper}", stdin=host.encode(), check=False)
    except ToolError as exc:
        raise SourceError(f"credential helper {helper} failed for {host}", detail=exc.one_line()) from None
    if result.exit_code != 0:
        return None  # "credentials not found in native keychain": try `auths`
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        raise SourceError(f"credential helper {helper} answered something other than JSON for {host}") from None
    user, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    if user == "<token>":
        return Credentials(user, "", identity_token=secret)
    return Credentials(user, secret) if user else None


def _host_of(key: str) -> str:
    netloc = urllib.parse.urlsplit(key if "://" in key else f"https://{key}").netloc
    return _canonical(netloc)


def _canonical(host: str) -> str:
    return "docker.io" if host in _DOCKER_HUB else host
