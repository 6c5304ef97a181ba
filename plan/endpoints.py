"""Typed endpoints: how one part of the platform reaches another. A component's plan module defines
its endpoint once (Service, named ports, scheme, the CA and the credentials a client mounts); every
consumer takes that value, so no Service name, port or Secret name is spelled twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

# Ref: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#services
# (`<service>.<namespace>.svc`; SRV records `_<port-name>._<protocol>.<service>.<namespace>.svc.<zone>`
# for named ports). The cluster zone is the default `cluster.local`.
CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class SecretKeyRef:
    """One key of one Secret in the platform's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class Credentials:
    """A user of a service and the Secret that holds its name and password."""

    username: str
    secret: str
    username_key: str = "username"
    password_key: str = "password"

    @property
    def password(self) -> SecretKeyRef:
        return SecretKeyRef(self.secret, self.password_key)


@dataclass(frozen=True)
class Endpoint:
    """A Service of the platform, as its clients address it."""

    service: str
    namespace: str
    ports: Mapping[str, int]
    scheme: str = "http"
    # The CA certificate a client trusts (TLS endpoints), and the client's user, where one is needed.
    ca: SecretKeyRef | None = None
    credentials: Mapping[str, Credentials] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.service}.{self.namespace}.svc"

    def port(self, name: str | None = None) -> int:
        """The port named `name`, or the only port."""
        if name is None:
            (only,) = self.ports.values()
            return only
        return self.ports[name]

    def address(self, port: str | None = None) -> str:
        return f"{self.host}:{self.port(port)}"

    def url(self, port: str | None = None, path: str = "") -> str:
        return f"{self.scheme}://{self.address(port)}{path}"

    def srv(self, port: str) -> str:
        """Every pod behind the (headless) Service, for Thanos-style discovery: `dnssrv+` looks up
        the SRV record of the named port."""
        return f"dnssrv+_{port}._tcp.{self.host}.{CLUSTER_DOMAIN}"

    def user(self, name: str) -> Credentials:
        return self.credentials[name]


def service_dns_names(endpoint: Endpoint) -> list[str]:
    """Every name a pod (or the API server) resolves the Service by: what a certificate for it covers."""
    service, ns = endpoint.service, endpoint.namespace
    return [service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.{CLUSTER_DOMAIN}"]
