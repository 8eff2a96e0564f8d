"""Validation a real API server does that fluxform's plans must anticipate (422 Invalid).

Create checks: names, label values, pod templates with containers, workload selectors
matching template labels, Job restartPolicy, CRD naming. Update checks: the immutable
fields that force a replace (workload selectors, StatefulSet spec, Service clusterIP,
Job template/selector, PVC spec, roleRef, immutable Secrets/ConfigMaps, CRD scope).

    validate(group, obj, old)   # raises errors.invalid(...) listing every problem
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .errors import FieldError, invalid

__all__ = ["validate"]

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
_IMMUTABLE = "field is immutable"


def _go_map(values: dict[str, Any]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{values[k]}"' for k in sorted(values)) + "}"


def _go_selector(selector: Any) -> str:
    """A LabelSelector the way Go's %#v prints it in immutability errors."""
    selector = selector if isinstance(selector, dict) else {}
    labels = selector.get("matchLabels")
    labels_text = _go_map(labels) if labels else "map[string]string(nil)"
    exprs = selector.get("matchExpressions")
    if exprs:
        items = ", ".join(
            f'v1.LabelSelectorRequirement{{Key:"{e.get("key")}", Operator:"{e.get("operator")}", '
            f"Values:[]string{{{', '.join(json.dumps(v) for v in e.get('values') or [])}}}}}"
            for e in exprs
        )
        exprs_text = f"[]v1.LabelSelectorRequirement{{{items}}}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}"


def _name_errors(kind: str, name: str) -> list[FieldError]:
    if not name:
        return [FieldError("metadata.name", "FieldValueRequired", "name or generateName is required")]
    if kind in _RBAC_KINDS:
        bad = "/" in name or "%" in name or name in (".", "..")
        return (
            [FieldError("metadata.name", "FieldValueInvalid", "may not contain '/' or '%'", json.dumps(name))]
            if bad
            else []
        )
    if kind == "Namespace":
        pattern, what = _LABEL, "RFC 1123 label"
    elif kind == "Service":
        pattern, what = _DNS1035, "RFC 1035 label"
    else:
        pattern, what = _SUBDOMAIN, "RFC 1123 subdomain"
    limit = 253 if pattern is _SUBDOMAIN else 63
    if len(name) <= limit and pattern.fullmatch(name):
        return []
    detail = f"a lowercase {what} must consist of lower case alphanumeric characters, '-' or '.'"
    return [FieldError("metadata.name", "FieldValueInvalid", detail, json.dumps(name))]


def _label_errors(obj: dict[str, Any]) -> list[FieldError]:
    errors = []
    for key, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            detail = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'"
            errors.append(FieldError(f"metadata.labels[{key}]", "FieldValueInvalid", detail, json.dumps(value)))
    return errors


def _template_errors(spec: dict[str, Any], path: str, check_selector: bool) -> list[FieldError]:
    errors = []
    template = spec.get("template") or {}
    if not (template.get("spec") or {}).get("containers"):
        errors.append(FieldError(f"{path}.template.spec.containers", "FieldValueRequired", ""))
    if check_selector:
        selector = spec.get("selector")
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            errors.append(FieldError(f"{path}.selector", "FieldValueRequired", ""))
        elif any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
            errors.append(
                FieldError(
                    f"{path}.template.metadata.labels",
                    "FieldValueInvalid",
                    "`selector` does not match template `labels`",
                    _go_map(labels),
                )
            )
    return errors


def _workload(obj: dict[str, Any]) -> list[FieldError]:
    return _template_errors(obj.get("spec") or {}, "spec", check_selector=True)


def _job(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = _template_errors(spec, "spec", check_selector=False)
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        errors.append(
            FieldError("spec.template.spec.restartPolicy", "FieldValueRequired", 'valid values: "OnFailure", "Never"')
        )
    return errors


def _crd(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = []
    expected = f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
    name = obj["metadata"].get("name")
    if name != expected:
        errors.append(
            FieldError(
                "metadata.name", "FieldValueInvalid", 'must be spec.names.plural+"."+spec.group', json.dumps(name)
            )
        )
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            FieldError(
                "spec.versions", "FieldValueInvalid", "must have exactly one version marked as storage version", "[]"
            )
        )
    return errors


_CREATE_CHECKS: dict[tuple[str, str], Callable[[dict[str, Any]], list[FieldError]]] = {
    ("apps", "Deployment"): _workload,
    ("apps", "StatefulSet"): _workload,
    ("apps", "DaemonSet"): _workload,
    ("apps", "ReplicaSet"): _workload,
    ("batch", "Job"): _job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _selector_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    new_sel, old_sel = _spec(obj).get("selector"), _spec(old).get("selector")
    if new_sel == old_sel:
        return []
    return [FieldError("spec.selector", "FieldValueInvalid", _IMMUTABLE, _go_selector(new_sel))]


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _statefulset_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    new_spec = {k: v for k, v in _spec(obj).items() if k not in _STS_MUTABLE}
    old_spec = {k: v for k, v in _spec(old).items() if k not in _STS_MUTABLE}
    if new_spec == old_spec:
        return []
    detail = (
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    )
    return [FieldError("spec", "FieldValueForbidden", detail)]


def _service_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    new_ip, old_ip = _spec(obj).get("clusterIP"), _spec(old).get("clusterIP")
    if not old_ip or not new_ip or new_ip == old_ip or _spec(obj).get("type") == "ExternalName":
        return []
    return [FieldError("spec.clusterIPs[0]", "FieldValueInvalid", "may not change once set", f'[]string{{"{new_ip}"}}')]


def _job_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errors = _selector_immutable(obj, old)
    new_spec, old_spec = _spec(obj), _spec(old)
    if new_spec.get("template") != old_spec.get("template"):
        value = json.dumps(new_spec.get("template"), sort_keys=True, separators=(",", ":"))
        errors.append(FieldError("spec.template", "FieldValueInvalid", _IMMUTABLE, value))
    if new_spec.get("completions") != old_spec.get("completions"):
        errors.append(FieldError("spec.completions", "FieldValueInvalid", _IMMUTABLE, str(new_spec.get("completions"))))
    return errors


def _pvc_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    def comparable(spec: dict[str, Any], keep_volume: bool) -> dict[str, Any]:
        spec = {k: v for k, v in spec.items() if k != "volumeAttributesClassName"}
        spec["resources"] = {k: v for k, v in (spec.get("resources") or {}).items() if k != "requests"}
        if not keep_volume:
            spec.pop("volumeName", None)
        return spec

    bound = bool(_spec(old).get("volumeName"))
    if comparable(_spec(obj), bound) == comparable(_spec(old), bound):
        return []
    detail = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
    return [FieldError("spec", "FieldValueForbidden", detail)]


def _immutable_data(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    detail = "field is immutable when `immutable` is set"
    errors = []
    if obj.get("immutable") is not True:
        errors.append(FieldError("immutable", "FieldValueForbidden", detail))
    for key in ("data", "binaryData"):
        if (obj.get(key) or {}) != (old.get(key) or {}):
            errors.append(FieldError(key, "FieldValueForbidden", detail))
    return errors


def _role_ref_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if obj.get("roleRef") == old.get("roleRef"):
        return []
    ref = obj.get("roleRef") or {}
    group, kind, name = ref.get("apiGroup", ""), ref.get("kind", ""), ref.get("name", "")
    value = f'rbac.RoleRef{{APIGroup:"{group}", Kind:"{kind}", Name:"{name}"}}'
    return [FieldError("roleRef", "FieldValueInvalid", "cannot change roleRef", value)]


def _crd_immutable(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    scope = _spec(obj).get("scope")
    if scope == _spec(old).get("scope"):
        return []
    return [FieldError("spec.scope", "FieldValueInvalid", _IMMUTABLE, json.dumps(scope))]


_UPDATE_CHECKS: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, Any]], list[FieldError]]] = {
    ("apps", "Deployment"): _selector_immutable,
    ("apps", "DaemonSet"): _selector_immutable,
    ("apps", "ReplicaSet"): _selector_immutable,
    ("apps", "StatefulSet"): _statefulset_immutable,
    ("", "Service"): _service_immutable,
    ("batch", "Job"): _job_immutable,
    ("", "PersistentVolumeClaim"): _pvc_immutable,
    ("", "Secret"): _immutable_data,
    ("", "ConfigMap"): _immutable_data,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_ref_immutable,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_ref_immutable,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd_immutable,
}


def validate(group: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid listing every problem of `obj` (an update of `old` unless None)."""
    kind = str(obj.get("kind", ""))
    name = str((obj.get("metadata") or {}).get("name") or "")
    errors = _name_errors(kind, name) + _label_errors(obj)
    create_check = _CREATE_CHECKS.get((group, kind))
    if create_check:
        errors += create_check(obj)
    update_check = _UPDATE_CHECKS.get((group, kind))
    if old is not None and update_check:
        errors += update_check(obj, old)
    if errors:
        raise invalid(kind, group, name, errors)
