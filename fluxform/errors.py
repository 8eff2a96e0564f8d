"""Error families. The CLI turns every `FluxformError` into one line and exit code 1.

    FluxformError
    ├── RenderError    building desired state: kustomize, substitution, Helm, bad YAML
    ├── DecryptError   SOPS: no matching key, MAC mismatch, sops missing
    ├── SourceError    resolving sources: git revisions, OCI artifacts, chart repositories
    ├── ClusterError   talking to the Kubernetes API
    ├── StateError     reading/writing state, locks (see state.lock.LockHeld)
    ├── PlanError      plan files: stale, corrupt, wrong lineage
    ├── WriteError     a file fluxform writes (plan, state, --out) could not be written
    └── ToolError      an external program failed (kustomize, sops, git)

Messages never contain secret values: callers pass object ids and paths, not content.
"""

from __future__ import annotations

from dataclasses import dataclass

from fluxform.objects import ObjectId, SourceLocation

__all__ = [
    "ClusterError",
    "DecryptError",
    "Diagnostic",
    "FluxformError",
    "FluxformWarning",
    "MissingKeys",
    "ObjectNotFound",
    "PlanError",
    "RenderError",
    "SourceError",
    "StateError",
    "ToolError",
    "ToolLimitExceeded",
    "WriteError",
]


class FluxformError(Exception):
    """Base of every error fluxform reports to a user."""

    def __init__(
        self,
        summary: str,
        *,
        detail: str = "",
        hint: str = "",
        subject: ObjectId | None = None,
        location: SourceLocation | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.hint = hint
        self.subject = subject
        self.location = location

    def one_line(self) -> str:
        """`<subject> (<location>): <summary>: <detail> (hint: ...)` on a single line."""
        parts: list[str] = []
        prefix = ""
        if self.subject is not None:
            prefix = str(self.subject)
        if self.location is not None:
            prefix = f"{prefix} ({self.location})" if prefix else str(self.location)
        text = f"{prefix}: {self.summary}" if prefix else self.summary
        parts.append(text)
        if self.detail:
            parts.append(self.detail)
        line = ": ".join(parts)
        if self.hint:
            line += f" (hint: {self.hint})"
        return " ".join(line.split())

    def message(self, *, beside: SourceLocation | None = None) -> str:
        """The error without its subject, on one line: a not planned owner's reason (the
        owner and its file `beside` are shown next to it). A location other than that file
        (the input inside the build that failed) stays in the reason."""
        where = str(self.location) if self.location is not None else ""
        located = f"{where}: " if where and where != str(beside or "") else ""
        line = located + ": ".join(p for p in (self.summary, self.detail) if p)
        if self.hint:
            line += f" (hint: {self.hint})"
        return " ".join(line.split())

    def with_context(self, *, subject: ObjectId | None = None, location: SourceLocation | None = None) -> FluxformError:
        """Fill in subject/location the raiser did not know; never overwrites."""
        if self.subject is None and subject is not None:
            self.subject = subject
        if self.location is None and location is not None:
            self.location = location
        return self


class FluxformWarning(UserWarning):
    """Something the user should know that does not change the result (a damaged cache entry
    that was rebuilt); the CLI prints each once as `Warning: ...` on stderr."""


class RenderError(FluxformError):
    """The desired state could not be built."""


class ObjectNotFound(RenderError):
    """An object a render looks up (substituteFrom, valuesFrom) is produced by no owner
    rendered; `missing` names it, so a caller rendering part of a fleet can add its producer."""

    def __init__(
        self,
        summary: str,
        missing: tuple[str, str, str],
        *,
        hint: str = "",
        subject: ObjectId | None = None,
        location: SourceLocation | None = None,
    ) -> None:
        super().__init__(summary, hint=hint, subject=subject, location=location)
        self.missing = missing  # (kind, namespace, name)


class DecryptError(FluxformError):
    """SOPS decryption failed."""


class MissingKeys(DecryptError):
    """No key at all was given for a Kustomization that decrypts (CI without secrets)."""


class SourceError(FluxformError):
    """A Flux source (git, OCI, chart repository) could not be resolved."""


class ClusterError(FluxformError):
    """The Kubernetes API refused or could not be reached."""


class StateError(FluxformError):
    """State could not be read, written or locked."""


class PlanError(FluxformError):
    """A plan file is unusable (corrupt, stale, other lineage)."""


class WriteError(FluxformError):
    """A file fluxform produces could not be written (nothing half-written is left)."""


class ToolError(FluxformError):
    """An external program exited non-zero."""

    def __init__(self, tool: str, exit_code: int, stderr_tail: str, *, hint: str = "") -> None:
        super().__init__(f"{tool} failed (exit {exit_code})", detail=stderr_tail, hint=hint)
        self.tool = tool
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class ToolLimitExceeded(ToolError):
    """An external program went past a limit (time, memory, output) and was killed."""

    def __init__(self, tool: str, kind: str, limit: str, *, hint: str = "") -> None:
        super().__init__(tool, -1, f"stopped at its {limit}", hint=hint)
        self.summary = f"{tool} was stopped at its {limit}"
        self.detail = ""
        self.kind = kind  # "time", "memory", "cpu" or "output"
        self.limit = limit  # e.g. "time limit of 300 s"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A warning returned beside a result (never raised)."""

    summary: str
    subject: ObjectId | None = None
    location: SourceLocation | None = None
    detail: str = ""

    def one_line(self) -> str:
        prefix = str(self.subject) if self.subject else ""
        if self.location is not None:
            prefix = f"{prefix} ({self.location})" if prefix else str(self.location)
        text = f"{prefix}: {self.summary}" if prefix else self.summary
        if self.detail:
            text += f": {self.detail}"
        return " ".join(text.split())
