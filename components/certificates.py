"""A CA of the stack's own and the serving certificate it signs (pulumi_tls): kept in the state, so
a render or `pulumi up` reuses them instead of making new ones (which Helm's genCA would do at every
render: a permanent diff). Used where a server's clients trust a CA we hand them (Elasticsearch's
HTTP layer, the OpenTelemetry Operator's admission webhooks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_tls as tls


@dataclass(frozen=True)
class Validity:
    ca_hours: int
    cert_hours: int
    early_renewal_hours: int  # `pulumi up` replaces the certificate this long before it expires


@dataclass
class ServingCertificate:
    ca: tls.SelfSignedCert
    key: tls.PrivateKey
    cert: tls.LocallySignedCert

    def secret_data(self) -> dict[str, pulumi.Output[str]]:
        """The `kubernetes.io/tls` keys, with the CA beside them."""
        return {"tls.crt": self.cert.cert_pem, "tls.key": self.key.private_key_pem, "ca.crt": self.ca.cert_pem}


def serving_certificate(
    name: str, leaf: str, *, ca_subject: tls.SelfSignedCertSubjectArgs, common_name: pulumi.Input[str],
    dns_names: Sequence[str], validity: Validity, opts: pulumi.ResourceOptions,
) -> ServingCertificate:
    """`{name}-ca-key`, `{name}-ca`, and `{name}-{leaf}-key|-csr|-cert` for `dns_names` (ECDSA P-256)."""
    ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    ca = tls.SelfSignedCert(
        f"{name}-ca",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        subject=ca_subject,
        validity_period_hours=validity.ca_hours,
        allowed_uses=["cert_signing", "crl_signing"],
        opts=opts,
    )
    key = tls.PrivateKey(f"{name}-{leaf}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    csr = tls.CertRequest(
        f"{name}-{leaf}-csr",
        private_key_pem=key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=common_name),
        dns_names=list(dns_names),
        opts=opts,
    )
    cert = tls.LocallySignedCert(
        f"{name}-{leaf}-cert",
        cert_request_pem=csr.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca.cert_pem,
        validity_period_hours=validity.cert_hours,
        early_renewal_hours=validity.early_renewal_hours,
        allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
        opts=opts,
    )
    return ServingCertificate(ca=ca, key=key, cert=cert)
