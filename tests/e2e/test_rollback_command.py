"""`fluxform rollback [--to SERIAL]` (issue 19, item 3) on a real git clone: the commit a state
serial was applied from is rendered again, checked digest by digest, planned, applied; the
revision rolled away from is marked, planning it says so and applying it needs
--retry-rolled-back. A render that differs from what the serial recorded is refused naming
the object; a commit no longer in the clone is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.state.local import LocalBackend
from tests.e2e.live_cluster import ensure_namespace, install_flux_crds
from tests.kubeapi import KubeApi
from tests.support.cli import Result, run
from tests.support.gitrepo import TestRepo
from tests.support.kubeclient import kubectl_json
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization

pytestmark = pytest.mark.usefixtures("shared_build_cache")

SHARED_SOURCE = FLUX_SYSTEM_SOURCE.replace("name: flux-system", "name: shared", 1)


class Fleet:
    """A git clone with two Kustomizations (apps in the clone, shared from another source
    mapped with --source), and the CLI pointed at the emulator."""

    def __init__(self, api: KubeApi, tmp_path: Path) -> None:
        self.api, self.state = api, tmp_path / "state.json"
        self.shared = tmp_path / "shared"
        self.repo = TestRepo.create(tmp_path / "repo")
        self.cluster = self.repo.path / "clusters" / "dev"
        self.repo.write(
            "clusters/dev/sync.yaml",
            FLUX_SYSTEM_SOURCE
            + "---\n"
            + SHARED_SOURCE
            + "---\n"
            + flux_kustomization("flux-system", "./clusters/dev"),
        )
        self.repo.write("clusters/dev/apps.yaml", flux_kustomization("apps", "./apps"))
        self.repo.write(
            "clusters/dev/shared.yaml",
            flux_kustomization("shared", "./", "  dependsOn:\n    - name: apps\n", source="shared"),
        )
        self.repo.write("apps/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n")
        self.set_shared("blue")

    def release(self, version: str, *, extra: bool = False) -> str:
        """Commit apps at `version` (with one more ConfigMap when `extra`); returns the commit."""
        self.repo.write("apps/settings.yaml", configmap_text("settings", "demo", version=version))
        extra_file = self.repo.path / "apps" / "extra.yaml"
        if extra:
            self.repo.write("apps/extra.yaml", configmap_text("extra", "demo", version=version))
        elif extra_file.exists():
            extra_file.unlink()
        self.repo.git("add", "-A")
        self.repo.git("commit", "-q", "-m", version)
        return self.repo.git("rev-parse", "HEAD").strip()

    def set_shared(self, color: str) -> None:
        self.shared.mkdir(exist_ok=True)
        (self.shared / "cm.yaml").write_text(configmap_text("shared", "demo", color=color))

    def cli(self, command: str, *args: str) -> Result:
        common = ["--kubeconfig", str(self.api.kubeconfig), "--state", str(self.state)]
        return run(command, self.cluster, *common, "--source", f"shared={self.shared}", *args)

    def settings(self) -> str:
        found: str = kubectl_json(self.api, "get", "configmap", "settings", "-n", "demo")["data"]["version"]
        return found

    def names(self) -> set[str]:
        return {i["metadata"]["name"] for i in kubectl_json(self.api, "get", "configmaps", "-n", "demo")["items"]}


@pytest.fixture
def fleet(kubeapi: KubeApi, tmp_path: Path) -> Fleet:
    return Fleet(kubeapi, tmp_path)


def test_rollback_restores_the_serial_and_marks_what_it_rolled_back(fleet: Fleet) -> None:
    v1 = fleet.release("v1")
    assert fleet.cli("apply", "--init-state", "--auto-approve").code == 0
    good = LocalBackend(fleet.state).read()
    assert good is not None and good.source_commit == v1
    fleet.release("v2", extra=True)
    assert fleet.cli("apply", "--auto-approve").code == 0
    assert fleet.settings() == "v2" and "extra" in fleet.names()

    result = fleet.cli("rollback", "--auto-approve", "--reason", "v2 breaks checkout")  # default: serial of v1

    assert result.code == 0, result.err
    assert f"at commit {v1[:12]} (state serial {good.serial})" in result.out.splitlines()[0]
    assert "- delete  ConfigMap/demo/extra" in result.out and "~ update  ConfigMap/demo/settings" in result.out
    assert f"Rollback to serial {good.serial} complete: 0 created, 1 configured, 1 deleted;" in result.out
    assert "marked rolled back (v2 breaks checkout); applying it again needs --retry-rolled-back" in result.out
    assert fleet.settings() == "v1" and "extra" not in fleet.names()
    state = LocalBackend(fleet.state).read()
    assert state is not None
    assert state.operation == f"rollback to serial {good.serial}" and state.source_commit == v1
    assert [(r.serial, r.reason) for r in state.rolled_back] == [(state.serial, "v2 breaks checkout")]
    assert {k: [(o.id, o.digest) for o in v.objects] for k, v in state.owners.items()} == {
        k: [(o.id, o.digest) for o in v.objects] for k, v in good.owners.items()
    }

    planned = fleet.cli("plan")  # HEAD is still v2

    assert f"was rolled back at serial {state.serial}: v2 breaks checkout" in planned.out

    refused = fleet.cli("apply", "--auto-approve")

    assert refused.code == 1
    assert (
        f"Error: refused: this source revision (commit {state.rolled_back[0].source_commit[:12]}) was rolled back"
        in (refused.err)
    )
    assert fleet.settings() == "v1"

    retried = fleet.cli("apply", "--auto-approve", "--retry-rolled-back")

    assert retried.code == 0, retried.err
    assert fleet.settings() == "v2"


def test_rollback_to_a_serial_whose_render_changed_is_refused_naming_the_object(fleet: Fleet) -> None:
    fleet.release("v1")
    assert fleet.cli("apply", "--init-state", "--auto-approve").code == 0
    serial = LocalBackend(fleet.state).read()
    assert serial is not None
    fleet.release("v2")
    assert fleet.cli("apply", "--auto-approve").code == 0
    fleet.set_shared("red")  # the other source moved since: the past cannot be rendered again

    result = fleet.cli("rollback", "--to", str(serial.serial), "--auto-approve")

    assert result.code == 1
    assert result.err.startswith(
        f"Error: rollback to serial {serial.serial} refused: ConfigMap/demo/shared renders differently than "
        f"serial {serial.serial} recorded"
    )
    assert fleet.settings() == "v2"  # nothing was written


def test_an_unreachable_commit_or_serial_is_an_error_naming_it(fleet: Fleet) -> None:
    fleet.release("v1")
    assert fleet.cli("apply", "--init-state", "--auto-approve").code == 0
    first = LocalBackend(fleet.state).read()
    assert first is not None
    fleet.repo.git("commit", "-q", "--amend", "-m", "v1 rewritten")  # history rewritten: the commit is gone
    fleet.repo.git("reflog", "expire", "--expire=now", "--all")
    fleet.repo.git("gc", "-q", "--prune=now")
    fleet.release("v2")
    assert fleet.cli("apply", "--auto-approve").code == 0

    gone = fleet.cli("rollback", "--to", str(first.serial), "--auto-approve")

    assert gone.code == 1
    assert gone.err.startswith(
        f"Error: state serial {first.serial} was applied from commit {first.source_commit}, which is not reachable in"
    )
    missing = fleet.cli("rollback", "--to", "99", "--auto-approve")
    assert missing.code == 1 and missing.err.startswith("Error: state serial 99 is not recorded")


def test_beside_flux_the_touched_owners_stay_suspended_and_the_report_says_how_to_resume(
    kubeapi: KubeApi, fleet: Fleet
) -> None:
    install_flux_crds(kubeapi)
    ensure_namespace(kubeapi, "flux-system")
    fleet.release("v1")
    assert fleet.cli("apply", "--init-state", "--auto-approve").code == 0
    fleet.release("v2")
    assert fleet.cli("apply", "--auto-approve", "--ignore-flux").code == 0

    result = fleet.cli("rollback", "--auto-approve")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    index = lines.index("Flux objects stay suspended; resume them once the fleet is fixed:")
    assert lines[index + 1 :] == ["  flux resume kustomization apps -n flux-system"]
    ks = kubectl_json(kubeapi, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "apps", "-n", "flux-system")
    assert ks["spec"]["suspend"] is True and fleet.settings() == "v1"
