"""Schema validation of rendered objects, as the API server checks them when Flux applies.

Flux's server-side apply (a dry run of every object of an owner first) fails the whole
Kustomization or HelmRelease when one object does not fit its kind's schema: a string where
an integer belongs, a field the schema does not declare. fluxform checks every rendered
object before planning, so a plan never promises what the API server would refuse.

- kubeschemas.py  the Kubernetes OpenAPI schemas of one version (kubernetes-validate's data)
- crdschemas.py   CRDs' openAPIV3Schema as JSON Schema, with the API server's rules
- violations.py   one violation, said without quoting a value (Secrets stay unseen)
- validator.py    compiles each kind's schema once (jsonschema-rs) and checks manifests

    validator = SchemaValidator(KubeSchemas.load("1.33"), crd_schemas(manifests))
    validator.check({"apiVersion": "apps/v1", "kind": "Deployment", ...})
"""

from fluxform.validate.crdschemas import crd_schemas, json_schema_of
from fluxform.validate.kubeschemas import KubeSchemas, parse_kube_version
from fluxform.validate.validator import SchemaValidator
from fluxform.validate.violations import Violation

__all__ = ["KubeSchemas", "SchemaValidator", "Violation", "crd_schemas", "json_schema_of", "parse_kube_version"]
