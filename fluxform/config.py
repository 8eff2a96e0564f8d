"""The fleet's config file, so CI and operators run short commands.

`fluxform.yaml` at the fleet root (or `[tool.fluxform]` in a pyproject.toml) is found by
walking up from the working directory. Paths in it are relative to its directory.

    # fluxform.yaml
    cluster: clusters/prod          # default cluster path
    kubeconfig: ~/.kube/config      # default: $KUBECONFIG, then ~/.kube/config
    context: prod                   # default: the kubeconfig's current-context
    state:
      backend: kubernetes           # local (default) | kubernetes
      path: .fluxform/prod.json     # local: default .fluxform/<context>.state.json
      namespace: fluxform-state     # kubernetes: where the Secrets and the Lease live
      name: prod                    # kubernetes: default derived from the context
      recipients: [age1...]         # age/SSH public keys Secret values are encrypted to
      history: 10                   # revisions kept for rollback
      lockTimeout: 60               # seconds to wait for a held lock (default 0: fail at once)
      leaseSeconds: 30              # kubernetes Lease duration (renewed while held)

    config = load_config(None, Path.cwd())
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import FluxformError
from fluxform.objects import SourceLocation
from fluxform.state.model import DEFAULT_HISTORY_LIMIT

__all__ = ["CONFIG_NAMES", "ConfigError", "FluxformConfig", "StateConfig", "current_context", "load_config"]

CONFIG_NAMES = ("fluxform.yaml", "fluxform.yml")
BACKENDS = ("local", "kubernetes")


class ConfigError(FluxformError):
    """fluxform.yaml (or [tool.fluxform]) is invalid."""


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where state lives and how it is kept."""

    backend: str = "local"  # "local" | "kubernetes"
    path: Path | None = None  # local: state file; None means .fluxform/<context>.state.json
    namespace: str = ""  # kubernetes: namespace of the state Secrets and Lease
    name: str = ""  # kubernetes: state name; "" means derived from the context
    recipients: tuple[str, ...] = ()  # age/SSH recipients Secret values are encrypted to
    history_limit: int = DEFAULT_HISTORY_LIMIT  # revisions kept besides the current one
    lock_timeout: float = 0.0  # seconds to wait for a held lock
    lease_seconds: float = 30.0  # kubernetes Lease duration; renewed every third of it


@dataclass(frozen=True, slots=True)
class FluxformConfig:
    """The whole config file, resolved; defaults when there is no file."""

    root: Path  # the fleet root: the config file's directory, else the start directory
    source: Path | None = None  # the file it came from
    cluster_path: str = ""  # default cluster path, relative to root
    kubeconfig: Path | None = None
    context: str = ""
    state: StateConfig = field(default_factory=StateConfig)


def load_config(explicit: Path | None, start: Path) -> FluxformConfig:
    """Load `explicit`, else the nearest config from `start` upwards, else defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        return _load_file(explicit)
    for directory in (start.resolve(), *start.resolve().parents):
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return _load_file(directory / name)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return _load_file(pyproject)
    return FluxformConfig(root=start.resolve())


def _has_tool_table(pyproject: Path) -> bool:
    try:
        return "fluxform" in tomllib.loads(pyproject.read_text()).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def _load_file(path: Path) -> FluxformConfig:
    try:
        text = path.read_text()
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text).get("tool", {}).get("fluxform", {})
        else:
            data = yamlio.load(text) or {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yamlio.YamlError) as exc:
        raise ConfigError("cannot read config file", detail=str(exc), location=SourceLocation(str(path))) from exc
    return _Parser(path).config(data)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path.parent.resolve()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{key}: {problem}", location=SourceLocation(str(self.path)))

    def config(self, data: Any) -> FluxformConfig:
        top = self.mapping(data, "config", {"cluster", "kubeconfig", "context", "state"})
        kubeconfig = self.text(top, "kubeconfig", "kubeconfig")
        return FluxformConfig(
            root=self.root,
            source=self.path,
            cluster_path=self.text(top, "cluster", "cluster"),
            kubeconfig=self.file(kubeconfig) if kubeconfig else None,
            context=self.text(top, "context", "context"),
            state=self.state(top.get("state") or {}),
        )

    def state(self, data: Any) -> StateConfig:
        keys = {"backend", "path", "namespace", "name", "recipients", "history", "lockTimeout", "leaseSeconds"}
        st = self.mapping(data, "state", keys)
        backend = self.text(st, "backend", "state.backend") or "local"
        if backend not in BACKENDS:
            raise self.error("state.backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
        path = self.text(st, "path", "state.path")
        return StateConfig(
            backend=backend,
            path=self.file(path) if path else None,
            namespace=self.text(st, "namespace", "state.namespace"),
            name=self.text(st, "name", "state.name"),
            recipients=self.recipients(st.get("recipients")),
            history_limit=int(self.number(st, "history", DEFAULT_HISTORY_LIMIT, integer=True)),
            lock_timeout=self.number(st, "lockTimeout", 0.0),
            lease_seconds=self.number(st, "leaseSeconds", 30.0, minimum=1.0),
        )

    def mapping(self, data: Any, key: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.error(key, "expected a mapping")
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise self.error(key, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
        return data

    def text(self, data: Mapping[str, Any], key: str, label: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(label, "expected a string")
        return value

    def number(
        self, data: Mapping[str, Any], key: str, default: float, *, integer: bool = False, minimum: float = 0.0
    ) -> float:
        value = data.get(key, default)
        valid = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not valid or value < minimum:
            kind = "an integer" if integer else "a number"
            raise self.error(f"state.{key}", f"expected {kind} >= {minimum:g}")
        return float(value)

    def recipients(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error("state.recipients", "expected a list of age or SSH public keys")
        return tuple(value)

    def file(self, text: str) -> Path:
        path = Path(os.path.expanduser(text))
        return path if path.is_absolute() else self.root / path


def current_context(kubeconfig: Path | None) -> str:
    """The kubeconfig's current-context ('' when none): `kubeconfig`, else each file of
    $KUBECONFIG in order (the first that sets it wins, as kubectl merges), else ~/.kube/config."""
    if kubeconfig is not None:
        files = [kubeconfig]
    elif os.environ.get("KUBECONFIG"):
        files = [Path(p) for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        files = [Path.home() / ".kube" / "config"]
    for file in files:
        try:
            doc = yamlio.load(file.read_text())
        except (OSError, UnicodeDecodeError, yamlio.YamlError):
            continue
        if isinstance(doc, Mapping) and isinstance(doc.get("current-context"), str) and doc["current-context"]:
            return str(doc["current-context"])
    return ""
