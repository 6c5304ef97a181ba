"""The secret config keys of a stack: which the program may read, which a stack needs, and what
each is for. Plain facts of the stack file, so the plan can say which secret each part of the
platform takes; stacks/config.py reads the values, as secret Outputs."""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.severity import ReceiverKind
from plan.settings import StackSettings


@dataclass(frozen=True)
class SecretKey:
    """A secret config key: when the program needs it, and how to set it."""

    key: str
    description: str


# Every secret the program may read. `required_secrets(settings)` says which a stack needs.
OBJECT_STORAGE_SECRETS = {
    "S3": (
        SecretKey("objectStorageAccessKey", "S3 access key id for the Thanos bucket"),
        SecretKey("objectStorageSecretKey", "S3 secret access key for the Thanos bucket"),
    ),
    "GCS": (SecretKey("objectStorageServiceAccount", "GCS service account JSON key for the Thanos bucket"),),
    "AZURE": (SecretKey("objectStorageAccountKey", "Azure storage account key for the Thanos container"),),
}
GRAFANA_DATABASE_PASSWORD = SecretKey("grafanaDatabasePassword", "password of grafana.database.user")
GRAFANA_OIDC_CLIENT_SECRET = SecretKey(
    "grafanaOidcClientSecret", "client secret of grafana.oidc.clientId at the identity provider"
)
POSTGRES_DSN = SecretKey(
    "postgresDsn", "DSN of the application database, postgresql://user:password@host:5432/db?sslmode=require"
)
# One secret per enabled alert receiver (alerting.receivers.<kind>.enabled: true). PagerDuty's routing
# keys are not among them: they are the integration keys of the services the program creates
# (components/pagerduty.py); the program needs the API token to create them.
PAGERDUTY_TOKEN = SecretKey(
    "pagerdutyToken", "PagerDuty REST API key (a General Access key with write access) the PagerDuty provider uses"
)
RECEIVER_SECRETS = {
    ReceiverKind.SLACK: SecretKey("slackWebhookUrl", "Slack incoming webhook URL"),
    ReceiverKind.EMAIL: SecretKey("smtpPassword", "SMTP password of alerting.receivers.email.authUsername"),
    ReceiverKind.TICKET: SecretKey("ticketWebhookToken", "bearer token of the ticket webhook"),
}


def required_secrets(settings: StackSettings) -> tuple[SecretKey, ...]:
    """The secret keys this stack cannot deploy without, derived from its plain settings."""
    needed = list(OBJECT_STORAGE_SECRETS[settings.object_storage.type])
    if settings.grafana.database is not None:
        needed.append(GRAFANA_DATABASE_PASSWORD)
    if settings.grafana.oidc.enabled:
        needed.append(GRAFANA_OIDC_CLIENT_SECRET)
    if settings.exporters.postgres.enabled:
        needed.append(POSTGRES_DSN)
    enabled = settings.alerting.receivers.enabled_kinds()
    if ReceiverKind.PAGERDUTY in enabled:
        needed.append(PAGERDUTY_TOKEN)
    needed += [secret for kind, secret in RECEIVER_SECRETS.items() if kind in enabled]
    return tuple(needed)


def all_secrets() -> tuple[SecretKey, ...]:
    """Every secret key the program may read, each once (docs/configuration.md lists them)."""
    secrets = [s for group in OBJECT_STORAGE_SECRETS.values() for s in group]
    secrets += [GRAFANA_DATABASE_PASSWORD, GRAFANA_OIDC_CLIENT_SECRET, POSTGRES_DSN, PAGERDUTY_TOKEN, *RECEIVER_SECRETS.values()]
    return tuple(secrets)
