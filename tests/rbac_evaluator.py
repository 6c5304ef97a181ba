"""An RBAC evaluator written from the Kubernetes authorization rules, over rendered objects: which
requests a ServiceAccount may make, given every Role, ClusterRole, RoleBinding and
ClusterRoleBinding of a render.

Ref: https://kubernetes.io/docs/reference/access-authn-authz/rbac/
- Permissions are purely additive: a request is allowed when any binding grants it; there are no
  deny rules.
- A ClusterRoleBinding grants its role's rules in every namespace and for cluster-scoped
  resources; a RoleBinding grants them only in its own namespace, also when it references a
  ClusterRole. A cluster-wide request (list/watch across all namespaces, a cluster-scoped
  resource, a non-resource URL) therefore needs a ClusterRoleBinding.
- A ServiceAccount is the subject `kind: ServiceAccount` with its name and namespace, and is also in
  the groups `system:serviceaccounts` and `system:serviceaccounts:<namespace>` (user name
  `system:serviceaccount:<namespace>:<name>`).
- A resource rule matches when its apiGroups, resources and verbs each contain the request's value
  or `*`; `resources` names a subresource as `<resource>/<subresource>` (`*/<sub>` allowed);
  non-empty `resourceNames` restrict it to those object names. A non-resource rule matches
  `nonResourceURLs` exactly or by a trailing `*` prefix.
- An aggregated ClusterRole (`aggregationRule`) has the rules of every ClusterRole whose labels
  match one of its selectors (the controller fills them in).

Also: which pods mount a ServiceAccount token (the pod's `automountServiceAccountToken` wins over
the ServiceAccount's; both unset means mounted).
Ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

Obj = Mapping[str, Any]
WILDCARD = "*"


@dataclass(frozen=True)
class Request:
    """One API request: `namespace` None means across all namespaces or a cluster-scoped resource."""

    verb: str
    group: str = ""
    resource: str = ""  # "pods", "nodes/metrics"
    namespace: str | None = None
    name: str | None = None
    url: str | None = None  # a non-resource request ("/metrics") instead of a resource

    def __str__(self) -> str:
        if self.url:
            return f"{self.verb} {self.url}"
        where = f" in {self.namespace}" if self.namespace else " (cluster-wide)"
        return f"{self.verb} {self.group + '/' if self.group else ''}{self.resource}{where}"


@dataclass(frozen=True)
class Account:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


class Rbac:
    def __init__(self, objects: Iterable[Obj]) -> None:
        objects = list(objects)
        self.cluster_roles = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ClusterRole"}
        self.roles = {
            (o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o.get("kind") == "Role"
        }
        self.bindings = [o for o in objects if o.get("kind") in ("RoleBinding", "ClusterRoleBinding")]

    # --- roles ----------------------------------------------------------------------------------

    def cluster_role_rules(self, name: str) -> list[Mapping[str, Any]]:
        role = self.cluster_roles.get(name)
        if role is None:
            return []
        rules = list(role.get("rules") or [])
        for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
            for other_name, other in self.cluster_roles.items():
                if other_name != name and _selector_matches(selector, other["metadata"].get("labels") or {}):
                    rules += other.get("rules") or []
        return rules

    def _binding_rules(self, binding: Obj) -> list[Mapping[str, Any]]:
        ref = binding["roleRef"]
        if ref["kind"] == "ClusterRole":
            return self.cluster_role_rules(ref["name"])
        role = self.roles.get((binding["metadata"].get("namespace"), ref["name"]))
        return list((role or {}).get("rules") or [])

    # --- subjects -------------------------------------------------------------------------------

    @staticmethod
    def subject_matches(subject: Mapping[str, Any], account: Account, binding_namespace: str | None) -> bool:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            # A RoleBinding's ServiceAccount subject without a namespace means the binding's.
            return subject["name"] == account.name and (subject.get("namespace") or binding_namespace) == account.namespace
        if kind == "Group":
            return subject["name"] in ("system:serviceaccounts", f"system:serviceaccounts:{account.namespace}")
        if kind == "User":
            return subject["name"] == f"system:serviceaccount:{account.namespace}:{account.name}"
        return False

    def bindings_of(self, account: Account) -> list[Obj]:
        return [
            b
            for b in self.bindings
            if any(self.subject_matches(s, account, b["metadata"].get("namespace")) for s in b.get("subjects") or [])
        ]

    # --- rules ----------------------------------------------------------------------------------

    @staticmethod
    def _contains(values: Iterable[str] | None, value: str) -> bool:
        values = list(values or [])
        return WILDCARD in values or value in values

    @classmethod
    def rule_allows(cls, rule: Mapping[str, Any], request: Request) -> bool:
        if not cls._contains(rule.get("verbs"), request.verb):
            return False
        if request.url is not None:
            return any(
                url == request.url or (url.endswith(WILDCARD) and request.url.startswith(url[:-1]))
                for url in rule.get("nonResourceURLs") or []
            )
        if "nonResourceURLs" in rule and not rule.get("resources"):
            return False
        if not cls._contains(rule.get("apiGroups"), request.group):
            return False
        resources = rule.get("resources") or []
        _, _, sub = request.resource.partition("/")
        if not (WILDCARD in resources or request.resource in resources or (sub and f"{WILDCARD}/{sub}" in resources)):
            return False
        names = rule.get("resourceNames") or []
        return not names or (request.name is not None and request.name in names)

    def allows(self, account: Account, request: Request) -> bool:
        for binding in self.bindings_of(account):
            namespace = binding["metadata"].get("namespace")
            if binding["kind"] == "RoleBinding" and (request.namespace is None or request.namespace != namespace):
                continue
            if any(self.rule_allows(rule, request) for rule in self._binding_rules(binding)):
                return True
        return False


# --- tokens -------------------------------------------------------------------------------------


def mounts_token(pod_spec: Mapping[str, Any], service_account: Obj | None) -> bool:
    own = pod_spec.get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    if service_account is not None and service_account.get("automountServiceAccountToken") is not None:
        return bool(service_account["automountServiceAccountToken"])
    return True
