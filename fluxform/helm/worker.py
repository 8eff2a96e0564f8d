"""The Helm worker: a short-lived process that runs one HelmRelease's Helm actions.

Why a process of its own: Helm's server-side apply field manager is the basename of the
process's argv[0] (the SDK has no option for it), so the release applier starts this module
as `<python dir>/helm-controller -m fluxform.helm.worker` (or `fluxform`, or the
`--field-manager` given) and the cluster sees the manager Flux's helm-controller uses. The
SDK's Go runtime also reads its environment (private Helm home, plugin dir) only when it
loads, so the parent sets both before the start.

Protocol (helm/worker_protocol.py): a WorkerRequest as JSON on stdin, the WorkerResult as
the last line of stdout. Exit 0 whenever a result was written, failed actions included.

    python -m fluxform.helm.worker < request.json   # (with argv[0] set by the parent)
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fluxform import yamlio
from fluxform.errors import FluxformError
from fluxform.helm.materialize import open_chart
from fluxform.helm.plugin import PLUGIN_NAME, PostRenderServer, install_plugin
from fluxform.helm.postrender import post_render
from fluxform.helm.remediation import ChartOpener, ReleaseProgram
from fluxform.helm.sdk import HelmReleases, parse_yaml_document, use_private_helm_home
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.worker_protocol import WorkerRequest, WorkerResult, chart_from_wire
from fluxform.interpreter import real_interpreter

if TYPE_CHECKING:
    import helm_python

__all__ = ["main", "post_render_stream"]

_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def post_render_stream(text: str, spec: HelmReleaseSpec) -> str:
    """helm-controller's post-renderer chain over the stream Helm hands a post-renderer
    (documents annotated with their template file, which the chain leaves in place for
    Helm to read back). Out as block YAML Go reads back to the same values (yamlio), as
    helm-controller's post-renderer writes it: Helm keeps the text as the release manifest."""
    docs = [doc for part in _DOC_SEPARATOR.split(text) if part.strip() and (doc := parse_yaml_document(part))]
    rendered = post_render(docs, spec)
    return "".join(f"---\n{yamlio.dump(doc, sort_keys=False)}" for doc in rendered)


def main() -> int:
    request = WorkerRequest.from_json(sys.stdin.buffer.read())
    use_private_helm_home()  # the home the parent made (WORKER_HOME_ENV), for Python-side helpers
    spec = HelmReleaseSpec.from_doc(request.helm_release)
    install_plugin(Path(os.environ["HELM_PLUGINS"]), real_interpreter())
    kubeconfig = Path(request.kubeconfig) if request.kubeconfig else None
    with (
        HelmReleases(kubeconfig, request.context, request.namespace) as helm,
        PostRenderServer(lambda text: post_render_stream(text, spec)) as server,
    ):
        post_render = {
            "post_renderer": PLUGIN_NAME,
            "post_renderer_args": [str(server.child_fd)],
            "post_render_strategy": spec.post_render_strategy,
        }
        program = ReleaseProgram(helm, spec, request, _chart_opener(request), post_render, _apply_methods(request))
        try:
            if request.operation == "apply":
                result = program.apply()
            elif request.operation == "rollback":
                result = program.rollback()
            else:
                result = program.uninstall()
        except FluxformError as exc:
            result = WorkerResult(None, None, "", tuple(program.steps), exc.one_line(), "fluxform")
        except Exception as exc:  # a bug here must still end with a result, and without a traceback
            result = WorkerResult(
                None, None, "", tuple(program.steps), f"Helm worker failed: {type(exc).__name__}", "bug"
            )
        failures = tuple(server.failures)
    print(json.dumps({**json.loads(result.to_json()), "post_render_failures": list(failures)}))
    return 0


def _chart_opener(request: WorkerRequest) -> ChartOpener:
    chart = chart_from_wire(request.chart) if request.chart is not None else None

    @contextmanager
    def opened() -> Iterator[helm_python.Chart]:
        if chart is None:
            raise FluxformError("no chart was sent for this operation")
        with open_chart(chart) as loaded:
            yield loaded

    return opened


def _apply_methods(request: WorkerRequest) -> dict[int, str]:
    return {int(revision): str(method) for revision, method in request.apply_methods.items()}


if __name__ == "__main__":
    sys.exit(main())
