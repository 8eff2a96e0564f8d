"""What a failed apply prints after its owner lines: the rollback's steps newest write first
(or, with --no-rollback, what is half-applied), what was not restored and why, what no
rollback undoes, then the summary lines. `apply` and `rollback` both print it.

    click.echo(render_failure(report), nl=False)
"""

from __future__ import annotations

from fluxform.apply.report import ApplyReport

__all__ = ["render_failure"]


def render_failure(report: ApplyReport) -> str:
    lines: list[str] = []
    rolled = report.rollback
    if rolled is not None:
        if rolled.steps:
            lines.append("Rollback (newest write first):")
        lines += [f"  {step.line()}" for step in rolled.steps]
        missing = rolled.not_restored()
        if missing:
            lines.append("Not restored:")
            lines += [f"  {step.id}: {step.reason}" for step in missing]
        irreversible = rolled.irreversible()
        if irreversible:
            lines.append("Not reversible (done by the failed apply; no rollback undoes it):")
            lines += [f"  {step.id}: {step.irreversible}" for step in irreversible]
    elif report.half_applied:
        lines.append("Half-applied (--no-rollback: left as the failed apply wrote it):")
        lines += [f"  {line}" for line in report.half_applied]
    lines.append(report.summary_line())
    if rolled is not None:
        lines.append(rolled.summary_line())
    return "\n".join(lines) + "\n"
