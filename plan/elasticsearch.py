"""Elasticsearch as the rest of the platform sees it: the cluster's names (ECK derives its Services
and Secrets from the cluster name), its TLS CA, its users, and its HTTP endpoint. The component
(components/elasticsearch.py) creates what these name; clients take the endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from plan.endpoints import Credentials, Endpoint, SecretKeyRef

CLUSTER = "logs"
HTTP_SERVICE = f"{CLUSTER}-es-http"  # created by ECK
HTTP_PORT = 9200
# Node-to-node transport. Ref: ECK v3.5.0 pkg/controller/elasticsearch/network/ports.go
TRANSPORT_PORT = 9300
# The operator's admission webhook (`https-webhook`; eck-operator chart `webhook.port` default).
OPERATOR_WEBHOOK_PORT = 9443
ELASTIC_USER_SECRET = f"{CLUSTER}-es-elastic-user"  # created by ECK, key `elastic`
HTTP_TLS_SECRET = f"{CLUSTER}-es-http-tls"
CA_SECRET = f"{CLUSTER}-es-ca"  # ca.crt only: what clients mount
CA_KEY = "ca.crt"
ROLES_SECRET = f"{CLUSTER}-es-roles"
# Data volume name ECK expects. Ref: ECK pkg/controller/elasticsearch/volume/names.go
DATA_VOLUME = "elasticsearch-data"
# The Elasticsearch image's user (`USER 1000:0`) and ECK's default fsGroup (podspec.go `defaultFsGroup`).
ES_UID = 1000
# Elasticsearch 8.16+ wants vm.max_map_count >= 1048576 (262144 before).
# Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory
MAX_MAP_COUNT = 1048576
MAX_MAP_COUNT_DAEMONSET = "elasticsearch-max-map-count"


@dataclass(frozen=True)
class EsUser:
    username: str
    role: str
    secret_name: str


FLUENT_BIT_USER = EsUser("fluentbit", "terrafusion_log_writer", f"{CLUSTER}-es-user-fluentbit")
JAEGER_USER = EsUser("jaeger", "terrafusion_trace_writer", f"{CLUSTER}-es-user-jaeger")
GRAFANA_USER = EsUser("grafana", "terrafusion_reader", f"{CLUSTER}-es-user-grafana")
EXPORTER_USER = EsUser("exporter", "terrafusion_monitor", f"{CLUSTER}-es-user-exporter")
USERS = (FLUENT_BIT_USER, JAEGER_USER, GRAFANA_USER, EXPORTER_USER)


def http_endpoint(namespace: str) -> Endpoint:
    """The cluster's HTTPS API (ECK's `<cluster>-es-http` Service), with the CA clients trust and
    one user per client (each in its own Secret, keys `username` and `password`)."""
    return Endpoint(
        HTTP_SERVICE,
        namespace,
        {"https": HTTP_PORT},
        scheme="https",
        ca=SecretKeyRef(CA_SECRET, CA_KEY),
        credentials={user.username: Credentials(user.username, user.secret_name) for user in USERS},
    )
