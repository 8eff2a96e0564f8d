"""What the emulator serves: one `ResourceType` per (group, version, resource).

Built-in kinds are a fixed table; custom resources get the same record from their CRD
(see registry.py). Flags here drive discovery, status handling and generation.

    DEPLOYMENTS = builtin_type("apps", "Deployment")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ALL_VERBS", "BUILTIN_TYPES", "ResourceType", "builtin_type", "version_priority"]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource. `status` = has a /status subresource (main-resource writes keep the
    live status); `generation` = metadata.generation is maintained; `custom` = a CRD-defined type
    (list items then carry apiVersion/kind, lists default to atomic in field ownership)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False
    generation: bool = False
    custom: bool = False
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _t(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    status: bool = False,
    gen: bool = False,
) -> ResourceType:
    return ResourceType(group, version, kind, plural, namespaced, "", short, cats, status, gen)


_ALL = ("all",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "Namespace", "namespaces", False, ("ns",), status=True),
    _t("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _t("", "v1", "Secret", "secrets"),
    _t("", "v1", "Service", "services", short=("svc",), cats=_ALL, status=True),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _t("", "v1", "Pod", "pods", short=("po",), cats=_ALL, status=True),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), status=True),
    _t("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), status=True),
    _t("", "v1", "Event", "events", short=("ev",)),
    _t("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _t("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), status=True),
    _t("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _t("", "v1", "Node", "nodes", False, ("no",), status=True),
    _t("apps", "v1", "Deployment", "deployments", short=("deploy",), cats=_ALL, status=True, gen=True),
    _t("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), cats=_ALL, status=True, gen=True),
    _t("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), cats=_ALL, status=True, gen=True),
    _t("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), cats=_ALL, status=True, gen=True),
    _t("batch", "v1", "Job", "jobs", cats=_ALL, status=True, gen=True),
    _t("batch", "v1", "CronJob", "cronjobs", short=("cj",), cats=_ALL, status=True, gen=True),
    _t(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        cats=_ALL,
        status=True,
        gen=True,
    ),
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _t("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), status=True, gen=True),
    _t("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",), gen=True),
    _t("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, gen=True),
    _t("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _t("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), status=True, gen=True),
    _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    _t("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False),
    _t("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    _t("coordination.k8s.io", "v1", "Lease", "leases"),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        status=True,
        gen=True,
    ),
    _t("apiregistration.k8s.io", "v1", "APIService", "apiservices", False, cats=("api-extensions",), status=True),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        cats=("api-extensions",),
        gen=True,
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        cats=("api-extensions",),
        gen=True,
    ),
)

_BY_KIND = {(t.group, t.kind): t for t in BUILTIN_TYPES}


def builtin_type(group: str, kind: str) -> ResourceType:
    """The built-in type for (group, kind); KeyError if the emulator does not serve it."""
    return _BY_KIND[(group, kind)]


_VERSION = re.compile(r"v(\d+)(?:(alpha|beta)(\d+))?")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting the preferred version first, as Kubernetes orders CRD versions:
    GA before beta before alpha, higher numbers first, unparseable names last by name."""
    match = _VERSION.fullmatch(version)
    if not match:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    return (stage, -int(match.group(1)), -int(match.group(3) or 0), version)
