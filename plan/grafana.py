"""The Grafana slice of the plan: the grafana-community chart's values (the dashboard sidecar's
among them), the admin-password reset script, the names of the Secrets and Role the component
declares, and Grafana's in-cluster endpoint. components/grafana.py declares them.

Chart facts (grafana 12.11.1): its only Helm hooks are the test-framework objects, turned off;
replicas > 1 need a shared database (sqlite on a ReadWriteOnce volume cannot be shared), which
the settings enforce; with a ReadWriteOnce volume the Deployment must use the Recreate strategy
or a rollout deadlocks on the volume attachment.

Pod security: `restricted` with a read-only root filesystem. Grafana writes only under
/var/lib/grafana (the `storage` volume: the PVC in dev, an emptyDir with a database in prod),
/var/lib/grafana-search (the chart's emptyDir) and /tmp (an emptyDir added here); it logs to the
console (the chart's grafana.ini `log.mode`). The image's user is 472 (grafana/grafana Dockerfile
`USER "$GF_UID"`) and it runs as any user (its data directories are world-writable for OpenShift's
random UIDs), so it runs as nobody (>= 10000) with the chart's group 472 as fsGroup: the kubelet
gives that group read-write on the volume at every mount, so dev's sqlite written by 472 stays
writable, and the chart's root `init-chown-data` container (not `restricted`) is not needed.

One sidecar, the chart's dashboard sidecar (k8s-sidecar, as grafana 12.11.1 pins it): it watches the
ConfigMaps of the platform namespace labelled `grafana_dashboard` (kube-prometheus-stack's dashboards,
monitoring/dashboards/upstream.py) and writes them where Grafana's file provider reads them, into the
"Kubernetes" folder. It is the pod's only Kubernetes API client, so the pod still mounts no token
(`automountServiceAccountToken: false`): a projected service-account token is mounted into the
sidecar container alone, and the ServiceAccount is bound, in the platform namespace only, to a Role
of this component that reads ConfigMaps (get/list/watch) and nothing else: the chart's own Role and
ClusterRole would also read every Secret. The sidecar does not call Grafana's reload API
(`skipReload`), so it needs no admin credentials: Grafana's provider rescans the folder every 30 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlparse

from monitoring.dashboards import KUBERNETES
from monitoring.dashboards.upstream import SIDECAR_LABEL, SIDECAR_LABEL_VALUE
from monitoring.ownership import people
from plan.endpoints import Endpoint
from plan.pod_security import NOBODY, restricted_container, restricted_pod, tmp_mount
from plan.secrets import GRAFANA_DATABASE_PASSWORD, GRAFANA_OIDC_CLIENT_SECRET
from plan.settings import GrafanaOidc, GrafanaSettings, StackSettings
from plan.versions import GRAFANA, GRAFANA_IMAGE, GRAFANA_IMAGE_TAG

FULLNAME = "grafana"
ADMIN_SECRET = "grafana-admin"
ADMIN_USER = "admin"
DATABASE_SECRET = "grafana-database"
# The Secret holding the identity provider's client secret (grafana.oidc), and its key.
OIDC_SECRET = "grafana-oidc"
OIDC_SECRET_KEY = "client-secret"
# Grafana reads GF_<SECTION>_<KEY> over grafana.ini ("." and "-" in the section become "_"), so the
# client secret reaches auth.generic_oauth.client_secret from the Secret without entering the
# ConfigMap; the chart refuses a plain client_secret in grafana.ini (assertNoLeakedSecrets).
# Ref: https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/#override-configuration-with-environment-variables
# (GF_AUTH_GOOGLE_CLIENT_SECRET); grafana 12.11.1 templates/_helpers.tpl grafana.assertNoLeakedSecrets
# (path auth.generic_oauth client_secret).
OIDC_CLIENT_SECRET_ENV = "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"
# Role precedence: a person in several mapped groups gets the first of these they qualify for.
ROLE_ORDER = ("Admin", "Editor", "Viewer")
# The chart's Service (`service.port`, set below) and its port's name.
# Ref: grafana 12.11.1 templates/service.yaml (port name `service`).
SERVICE_PORT = 80
SERVICE_PORT_NAME = "service"
GRAFANA_GID = 472  # the chart's runAsGroup/fsGroup default (the image's GF_UID is 472 too)
# The container port (`grafana`) the Service targets: the chart's `service.targetPort` default,
# Grafana's own http_port.
HTTP_PORT = 3000
# The Role the dashboard sidecar's ServiceAccount is bound to (the chart renders only the binding).
SIDECAR_ROLE = "grafana-dashboard-sidecar"
# The service-account token, CA and namespace, projected like the kubelet's automount volume
# (kube-root-ca.crt is published into every namespace by kube-controller-manager), mounted where
# in-cluster clients look for them, in the sidecar container only.
# Ref: https://kubernetes.io/docs/concepts/security/service-accounts/#assign-to-pod (the
# kube-api-access projected volume); kubernetes-client/python config/incluster_config.py
# (SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME; it re-reads the rotated token).
SIDECAR_TOKEN_VOLUME = "sc-dashboard-api-access"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_EXPIRATION_SECONDS = 3607  # the kubelet's default for the automounted token
# The sidecar's health server (/healthz: 200 once the first sync is done and while the API server
# answered within 60 s). Set explicitly: the chart sets HEALTH_PORT only for the init-container form.
# Ref: kiwigrid/k8s-sidecar src/healthz.py (HEALTH_PORT, default 8080), src/sidecar.py (the health
# server always runs; it reads the namespace file, hence its place in the token volume); grafana 12.11.1
# templates/_helpers.tpl `grafana.sidecar.dashboards.healthPort` (8084).
SIDECAR_HEALTH_PORT = 8084
# One Python process holding the dashboards it writes (about 350 KB of JSON).
SIDECAR_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}


# Grafana reads GF_SECURITY_ADMIN_PASSWORD only when it creates the admin, on its first start against
# an empty database ("Set once on first-run": https://grafana.com/docs/grafana/latest/setup-grafana/
# configure-grafana/#admin_password). So every pod start first sets the admin's password in the
# database to the Secret's, with the CLI of the same image, against the same grafana.ini, data volume
# and database: a rotated Secret rolls the pods (its digest is on the pod template) and the new pods
# converge the database before Grafana serves, so the provider's next call authenticates.
# `admin reset-admin-password --password-from-stdin` (the password never is an argument) changes the
# user with `--user-id` (default 1: the admin Grafana creates first). On the very first start there is
# no user yet and the command fails: tolerated, Grafana then creates the admin from the env itself.
# Ref: grafana/grafana pkg/cmd/grafana-cli/commands/reset_password_command.go (password-from-stdin,
# user-id); https://grafana.com/docs/grafana/latest/cli/#reset-admin-password; `grafana` is on the
# image's PATH (grafana/grafana Dockerfile: ENV PATH="/usr/share/grafana/bin:$PATH", GF_PATHS_*).
RESET_ADMIN_PASSWORD_SCRIPT = """\
if printf '%s\\n' "$GF_SECURITY_ADMIN_PASSWORD" | grafana cli --homepath /usr/share/grafana \\
    --config /etc/grafana/grafana.ini admin reset-admin-password --password-from-stdin; then
  echo "admin password set from the Secret"
else
  echo "admin password not set (no admin yet on a first start: Grafana creates it from the Secret)"
fi
"""


def reset_admin_password_container(settings: GrafanaSettings) -> dict[str, Any]:
    """The init container that makes the database's admin password the Secret's (see above)."""
    env: list[dict[str, Any]] = [
        {"name": "GF_SECURITY_ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "admin-password"}}}
    ]
    if settings.database is not None:
        env.append({"name": "GF_DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": DATABASE_SECRET, "key": "password"}}})
    return {
        "name": "reset-admin-password",
        # Ref: grafana 12.11.1 values.yaml `image` (registry docker.io, repository grafana/grafana).
        "image": f"{GRAFANA_IMAGE}:{GRAFANA_IMAGE_TAG}",
        "command": ["/bin/sh", "-c", RESET_ADMIN_PASSWORD_SCRIPT],
        "env": env,
        # The chart's volumes: `config` (grafana.ini), `storage` (the data directory: dev's sqlite).
        # Ref: grafana 12.11.1 templates/_pod.tpl (the grafana container's volumeMounts).
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/grafana/grafana.ini", "subPath": "grafana.ini"},
            {"name": "storage", "mountPath": "/var/lib/grafana"},
            tmp_mount(),
        ],
        # Within the pod's request (a pod requests the larger of its init and app containers).
        "resources": settings.resources.to_k8s(),
        "securityContext": restricted_container(),
    }


def _sidecar_token_volume() -> dict[str, Any]:
    return {
        "name": SIDECAR_TOKEN_VOLUME,
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def dashboard_sidecar_values(namespace: str) -> dict[str, Any]:
    """The chart's dashboard sidecar for kube-prometheus-stack's dashboard ConfigMaps.

    Ref: grafana 12.11.1 values.yaml `sidecar.securityContext`, `sidecar.dashboards` (enabled, label,
    labelValue, searchNamespace, resource, skipReload, extraMounts, provider.folder/folderUid/
    allowUiUpdates/disableDelete); templates/_pod.tpl (the grafana-sc-dashboard container: env
    LABEL, LABEL_VALUE, NAMESPACE = searchNamespace joined, RESOURCE; REQ_* only without skipReload),
    _config.tpl `grafana.configDashboardProviderData` (updateIntervalSeconds 30),
    templates/rolebinding.yaml (roleRef `rbac.useExistingRole` when set, and templates/role.yaml,
    clusterrole.yaml not rendered then).
    """
    return {
        "securityContext": restricted_container(),
        "resources": SIDECAR_RESOURCES,
        # Liveness restarts a sidecar that lost the API server or its watcher; readiness only asks
        # whether it runs, so an API-server outage never takes Grafana out of its Service.
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": SIDECAR_HEALTH_PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 30,
        },
        "readinessProbe": {"tcpSocket": {"port": SIDECAR_HEALTH_PORT}},
        "dashboards": {
            "enabled": True,
            "env": {"HEALTH_PORT": str(SIDECAR_HEALTH_PORT)},
            "label": SIDECAR_LABEL,
            "labelValue": SIDECAR_LABEL_VALUE,
            # Only the platform namespace: a namespaced Role suffices, and no other tenant's
            # ConfigMap becomes a dashboard here.
            "searchNamespace": [namespace],
            # ConfigMaps only (the default `both` would also watch Secrets).
            "resource": "configmap",
            # Grafana's file provider rescans the folder (updateIntervalSeconds), so the sidecar
            # needs neither the reload API nor the admin credentials it would take from the Secret.
            # Ref: grafana/grafana pkg/services/provisioning/dashboards/file_reader.go (pollChanges)
            "skipReload": True,
            "extraMounts": [{"name": SIDECAR_TOKEN_VOLUME, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}],
            "provider": {
                # Grafana's provisioning creates this folder (uid and title) and keeps the dashboards
                # in it; the Pulumi side sets its permissions (components/grafana_content.py).
                # Ref: grafana/grafana pkg/services/provisioning/dashboards/file_reader.go getOrCreateFolder
                "folder": KUBERNETES.title,
                "folderUid": KUBERNETES.uid,
                "allowUiUpdates": False,
                # A dashboard whose ConfigMap goes (or loses the label) goes from Grafana too.
                "disableDelete": False,
            },
        },
    }


def role_attribute_path(oidc: GrafanaOidc) -> str:
    """The JMESPath Grafana evaluates on the ID token / UserInfo at every sign-in to get the org role:
    the highest role of the person's mapped groups; unmapped people get Viewer unless denyUnmapped
    (then the expression yields nothing and role_attribute_strict refuses the sign-in).

    `groups || [] (a JSON literal)` keeps a token without the claim from being a type error in contains().
    Ref: https://grafana.com/docs/grafana/latest/setup-grafana/configure-security/configure-authentication/generic-oauth/
    ("Configure role mapping": role_attribute_path, role_attribute_strict, contains(groups[*], 'admin') && 'Admin' || ...);
    https://jmespath.org/specification.html (contains, raw string literals '...', JSON literals `...`).
    """
    groups = f"{oidc.groups_attribute_path} || `[]`"
    terms = [
        f"contains({groups}, '{group}') && '{role}'"
        for role in ROLE_ORDER
        for group, mapped in sorted(oidc.group_roles.items())
        if mapped == role
    ]
    if not oidc.deny_unmapped:
        terms.append("'Viewer'")
    return " || ".join(terms)


def oidc_ini(oidc: GrafanaOidc, allowed_domains: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """grafana.ini's sign-in sections with the identity provider on (docs/grafana.md); without it,
    only what keeps the admin's and the provider's basic auth (`auth.basic`, on by default) explicit.

    Ref: Grafana conf/defaults.ini [auth] (disable_login_form, oauth_allow_insecure_email_lookup),
    [auth.basic] enabled, [auth.generic_oauth] (enabled, name, client_id, scopes, auth_url, token_url,
    api_url, use_pkce, login_attribute_path, email_attribute_path, groups_attribute_path,
    role_attribute_path, role_attribute_strict, skip_org_role_sync, allow_assign_grafana_admin,
    allow_sign_up, allowed_domains, auto_login).
    """
    # The Grafana provider authenticates as the admin with basic auth: it stays on whatever the
    # identity provider does, and so does the login form, the admin's break-glass way in when the
    # identity provider is down.
    ini: dict[str, dict[str, Any]] = {"auth.basic": {"enabled": True}, "auth": {"disable_login_form": False}}
    if not oidc.enabled:
        return ini
    # The program creates every person of the model as a Grafana user (their teams' members must
    # exist: plan/grafana_content.py), so their first sign-in must find that user. Grafana matches a
    # sign-in to a user by the identity provider's id only, unless email lookup is on; without it
    # the first sign-in would try to create a second user with the same email and fail.
    # Ref: grafana/grafana pkg/services/authn/clients/oauth.go (lookupParams.Email only with
    # oauth_allow_insecure_email_lookup), pkg/services/authn/authnimpl/sync/user_sync.go (getUser:
    # auth info, then lookupByOneOf; upsertAuthConnection links the found user to the provider);
    # https://grafana.com/docs/grafana/latest/setup-grafana/configure-security/configure-authentication/#enable-email-lookup
    # Safe because the identity provider is the organisation's own and asserts only verified
    # addresses (docs/grafana.md), and allowed_domains admits only the model's domains (the admin is
    # admin@localhost: nobody signing in can match it).
    ini["auth"]["oauth_allow_insecure_email_lookup"] = True
    ini["auth.generic_oauth"] = {
        "enabled": True,
        "name": oidc.name,
        "client_id": oidc.client_id,
        "scopes": " ".join(oidc.scopes),
        "auth_url": oidc.auth_url,
        "token_url": oidc.token_url,
        "api_url": oidc.api_url,
        "use_pkce": True,
        # The program's users have their email as login; the identity provider's login would
        # otherwise overwrite it at sign-in (user_sync.go updateUserAttributes) and drift from Pulumi.
        "login_attribute_path": "email",
        "email_attribute_path": "email",
        "groups_attribute_path": oidc.groups_attribute_path,
        "role_attribute_path": role_attribute_path(oidc),
        "role_attribute_strict": oidc.deny_unmapped,
        # Roles come from the identity provider at every sign-in; nobody becomes a server admin that way.
        "skip_org_role_sync": False,
        "allow_assign_grafana_admin": False,
        "allow_sign_up": oidc.allow_sign_up,
        "allowed_domains": " ".join(allowed_domains),
        "auto_login": oidc.auto_login,
    }
    return ini


def grafana_values(
    settings: GrafanaSettings, storage_class: str | None, namespace: str, allowed_domains: tuple[str, ...] = ()
) -> dict[str, Any]:
    host = urlparse(settings.url).hostname
    ini: dict[str, Any] = {
        "server": {"root_url": settings.url, "domain": host},
        "analytics": {"check_for_updates": False, "reporting_enabled": False},
        "users": {"allow_sign_up": False},
        "auth.anonymous": {"enabled": False},
        **oidc_ini(settings.oidc, allowed_domains),
    }
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "image": {"tag": GRAFANA_IMAGE_TAG},
        "replicas": settings.replicas,
        "admin": {"existingSecret": ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "resources": settings.resources.to_k8s(),
        "testFramework": {"enabled": False},
        "serviceMonitor": {"enabled": True},
        "service": {"type": "ClusterIP", "port": SERVICE_PORT},
        "grafana.ini": ini,
        # Ref: grafana 12.11.1 values.yaml `securityContext`, `containerSecurityContext`,
        # `initChownData.enabled`, `extraEmptyDirMounts`, `extraContainerVolumes`,
        # `automountServiceAccountToken`, `serviceAccount.automountServiceAccountToken`, `rbac`
        # (create, namespaced, useExistingRole); templates/_pod.tpl, templates/serviceaccount.yaml,
        # templates/role.yaml, rolebinding.yaml, clusterrole.yaml.
        "securityContext": restricted_pod(run_as_user=NOBODY, run_as_group=GRAFANA_GID, fs_group=GRAFANA_GID),
        "initChownData": {"enabled": False},
        "containerSecurityContext": restricted_container(),
        "extraEmptyDirMounts": [tmp_mount()],
        # No token in the Grafana container; the sidecar's own (see _sidecar_token_volume).
        "automountServiceAccountToken": False,
        "serviceAccount": {"automountServiceAccountToken": False},
        "extraContainerVolumes": [_sidecar_token_volume()],
        "sidecar": dashboard_sidecar_values(namespace),
        # A RoleBinding in the platform namespace to SIDECAR_ROLE, no ClusterRole.
        "rbac": {"create": True, "namespaced": True, "useExistingRole": SIDECAR_ROLE},
        # Ref: grafana 12.11.1 values.yaml `extraInitContainers` (templates/_pod.tpl l.595).
        "extraInitContainers": [reset_admin_password_container(settings)],
    }
    # Ref: grafana 12.11.1 values.yaml `envValueFrom` (templates/_pod.tpl: env valueFrom of the grafana container).
    env_from: dict[str, Any] = {}
    if settings.oidc.enabled:
        env_from[OIDC_CLIENT_SECRET_ENV] = {"secretKeyRef": {"name": OIDC_SECRET, "key": OIDC_SECRET_KEY}}
    if settings.database is None:
        persistence: dict[str, Any] = {"enabled": True, "type": "pvc", "size": str(settings.storage_size)}
        if storage_class:
            persistence["storageClassName"] = storage_class
        values["persistence"] = persistence
        values["deploymentStrategy"] = {"type": "Recreate"}
    else:
        db = settings.database
        ini["database"] = {"type": db.type, "host": db.host, "name": db.name, "user": db.user, "ssl_mode": db.ssl_mode}
        # Grafana reads GF_<SECTION>_<KEY> over grafana.ini; the password never enters values.
        env_from["GF_DATABASE_PASSWORD"] = {"secretKeyRef": {"name": DATABASE_SECRET, "key": "password"}}
        values["persistence"] = {"enabled": False}
        values["podDisruptionBudget"] = {"minAvailable": 1}
    if env_from:
        values["envValueFrom"] = env_from
    if settings.ingress.enabled:
        ingress: dict[str, Any] = {"enabled": True, "hosts": [host], "path": "/", "pathType": "Prefix"}
        if settings.ingress.class_name:
            ingress["ingressClassName"] = settings.ingress.class_name
        if settings.ingress.tls_secret_name:
            ingress["tls"] = [{"secretName": settings.ingress.tls_secret_name, "hosts": [host]}]
        if settings.ingress.cluster_issuer:
            # Ref: https://cert-manager.io/docs/usage/ingress/ (ingress-shim issues spec.tls[].secretName)
            ingress["annotations"] = {"cert-manager.io/cluster-issuer": settings.ingress.cluster_issuer}
        values["ingress"] = ingress
    return values


@dataclass(frozen=True)
class GrafanaPlan:
    # Grafana's public URL: its root_url, and where the Grafana provider connects from `pulumi up`.
    url: str
    # The chart's Service, as in-cluster clients reach it.
    endpoint: Endpoint
    # The chart's values (the component adds the Secrets' digests as pod annotations), and the
    # stack file's grafana.extraValues merged over them.
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    admin_user: str
    admin_secret: str
    # The Secret holding the database password, and the secret config key it comes from
    # (plan/secrets.py), when Grafana uses a shared database; both None with sqlite.
    database_secret: str | None
    database_password_key: str | None
    # The Secret holding the identity provider's client secret, and the secret config key it comes
    # from (plan/secrets.py), when grafana.oidc is enabled; both None otherwise.
    oidc_secret: str | None
    oidc_client_secret_key: str | None
    sidecar_role: str
    # The labels the chart gives Grafana's pods (`app.kubernetes.io/name`, its selector label).
    pod_labels: Mapping[str, str]


def endpoint(namespace: str) -> Endpoint:
    return Endpoint(FULLNAME, namespace, {SERVICE_PORT_NAME: SERVICE_PORT})


def grafana_plan(settings: StackSettings) -> GrafanaPlan:
    grafana = settings.grafana
    database = grafana.database is not None
    oidc = grafana.oidc.enabled
    return GrafanaPlan(
        url=grafana.url,
        endpoint=endpoint(settings.namespace),
        values=grafana_values(grafana, settings.storage_class, settings.namespace, allowed_domains(settings)),
        extra_values=grafana.extra_values,
        admin_user=ADMIN_USER,
        admin_secret=ADMIN_SECRET,
        database_secret=DATABASE_SECRET if database else None,
        database_password_key=GRAFANA_DATABASE_PASSWORD.key if database else None,
        oidc_secret=OIDC_SECRET if oidc else None,
        oidc_client_secret_key=GRAFANA_OIDC_CLIENT_SECRET.key if oidc else None,
        sidecar_role=SIDECAR_ROLE,
        pod_labels={"app.kubernetes.io/name": GRAFANA.chart},
    )


def allowed_domains(settings: StackSettings) -> tuple[str, ...]:
    """The email domains of the ownership model's people: the only ones that may sign in."""
    return tuple(sorted({email.rsplit("@", 1)[1].lower() for email in people(settings.ownership)}))


def grafana_warnings(settings: StackSettings) -> list[str]:
    """Who cannot sign in: everybody but the admin while the identity provider is off."""
    if settings.grafana.oidc.enabled:
        return []
    return [
        f"grafana.oidc.enabled: sign-in through the identity provider is off in environment {settings.environment!r}; "
        f"only the admin can sign in (`pulumi stack output grafanaAdminPassword --show-secrets`): the "
        f"{len(people(settings.ownership))} people of ownership are Grafana users in their teams with passwords nobody knows"
    ]
