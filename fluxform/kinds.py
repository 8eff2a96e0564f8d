"""Which kinds are cluster-scoped, offline: built-in Kubernetes kinds plus CRDs seen in the
desired state. With a cluster, discovery (cluster/) is the authority; this table is what a
plan without a cluster relies on, so it errs on listing every built-in cluster-scoped kind.

    scopes = KindScopes.from_manifests(all_desired_manifests)
    scopes.is_namespaced("apps", "Deployment")  # True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILTIN_CLUSTER_SCOPED", "KNOWN_GROUPS", "KindScopes"]

#: (group, kind) of built-in cluster-scoped resources.
BUILTIN_CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("policy", "PodSecurityPolicy"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("cert-manager.io", "ClusterIssuer"),
    }
)


#: API groups whose kinds fluxform knows without a CRD: Kubernetes' own, Flux's, and the
#: groups of the well-known CRD kinds above. A kind of these groups not listed above is
#: namespaced; a kind of any other group without a CRD in the fleet is unknown.
KNOWN_GROUPS: frozenset[str] = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "resource.k8s.io",
        "storagemigration.k8s.io",
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io",
        *(group for group, _ in BUILTIN_CLUSTER_SCOPED),
    }
)


@dataclass(frozen=True)
class KindScopes:
    """Scope lookup: CRDs found in the desired state override the built-in table."""

    crd_scopes: Mapping[tuple[str, str], bool] = field(default_factory=dict)  # (group, kind) -> namespaced

    @classmethod
    def from_manifests(cls, manifests: Iterable[Mapping[str, Any]]) -> KindScopes:
        scopes: dict[tuple[str, str], bool] = {}
        for doc in manifests:
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            names = spec.get("names") or {}
            group, kind = spec.get("group"), names.get("kind")
            if isinstance(group, str) and isinstance(kind, str):
                scopes[(group, kind)] = spec.get("scope", "Namespaced") != "Cluster"
        return cls(scopes)

    def is_namespaced(self, group: str, kind: str) -> bool:
        """Unknown kinds count as namespaced (most CRs are); CRDs in the build say otherwise."""
        if (group, kind) in self.crd_scopes:
            return self.crd_scopes[(group, kind)]
        return (group, kind) not in BUILTIN_CLUSTER_SCOPED

    def knows(self, group: str, kind: str) -> bool:
        """Whether the scope of this kind is known offline (built in, or a CRD in the fleet);
        an unknown kind's CRD ships in a chart or is installed out of band."""
        return (group, kind) in self.crd_scopes or group in KNOWN_GROUPS

    def merged(self, other: Mapping[tuple[str, str], bool]) -> KindScopes:
        return KindScopes({**self.crd_scopes, **other})
