"""The commands the docs show, found by their markers, and a fresh shell to run them in.

A fenced block preceded by an HTML comment is run by tests/e2e/test_docs_commands.py:

    <!-- test: run -->            a ```sh block: every line must succeed, as pasted one by
                                  one into a fresh shell with the venv activated
    <!-- test: fails -->          a ```sh block (one command) then a ```text block: the
                                  command exits 1 and prints those `Error:` lines (`…` stands
                                  for any text)
    <!-- test: github-workflow --> a ```yaml GitHub Actions workflow: its `run:` steps run in
                                  order against a pull request of the example fleet
    <!-- test: gitlab-ci -->      a ```yaml .gitlab-ci.yml: its job's `script:` runs likewise

Blocks without a marker are shown only. In workflows, a step or script item whose text
starts with `# CI only` (installing fluxform, posting a comment) is shown but not run.

    blocks = doc_blocks(Path("README.md"))
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REPO",
    "DocBlock",
    "doc_blocks",
    "error_pattern",
    "fresh_shell",
    "link_repository",
    "run_bash",
    "shell_script",
]

REPO = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(
    r"^<!-- test: (?P<kind>[a-z-]+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```\n"
    r"(?:\n?```text\n(?P<expected>.*?)^```\n)?",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class DocBlock:
    file: str  # relative to the repository
    line: int
    kind: str  # run | fails | github-workflow | gitlab-ci
    body: str
    expected: str = ""  # the ```text block after a `fails` block

    @property
    def name(self) -> str:
        return f"{self.file}:{self.line}"


def doc_blocks(path: Path) -> list[DocBlock]:
    text = path.read_text(encoding="utf-8")
    return [
        DocBlock(
            str(path.relative_to(REPO)),
            text.count("\n", 0, m.start()) + 2,
            m.group("kind"),
            m.group("body"),
            m.group("expected") or "",
        )
        for m in _BLOCK.finditer(text)
    ]


def shell_script(body: str) -> str:
    """`body` as a script that stops at the first line that fails, naming it (each line as
    typed: `a; echo $?` succeeds when its last command does)."""
    lines: list[str] = []
    pending = ""
    for number, raw in enumerate(body.splitlines(), start=1):
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if not line or line.startswith("#"):
            continue
        if line.endswith("&") or " & " in line:  # a background job: its start cannot fail here
            lines.append(line)
            continue
        quoted = line.replace("'", "'\\''")
        lines.append(f"{{ {line}\n}} || {{ echo 'docs line {number} failed: {quoted}' >&2; exit 1; }}")
    return "\n".join(lines) + "\n"


def fresh_shell(workspace: Path) -> dict[str, str]:
    """The environment of a new shell with the venv activated: its own HOME and caches, no
    cluster, no SOPS keys from the caller."""
    venv_bin = Path(sys.executable).parent
    home = workspace / ".home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(venv_bin.parent),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    return env


def link_repository(workspace: Path, *names: str) -> None:
    """`workspace/<name>` -> the repository's `<name>` (fixtures, tests), as the docs' commands
    expect to run from the repository root without writing into it."""
    for name in names:
        (workspace / name).symlink_to(REPO / name, target_is_directory=True)


def run_bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(
        [bash, "-o", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def error_pattern(expected: str) -> re.Pattern[str]:
    """The `Error:` lines a doc shows, `…` matching any text, as one pattern for stderr."""
    parts = [re.escape(line).replace("…", ".*?") for line in expected.strip().splitlines()]
    return re.compile("^" + r"\n".join(parts) + r"\n?$", re.DOTALL)
