"""Constants shared by the logs and traces tests (a module, not conftest: conftest is not importable)."""

from __future__ import annotations

ES_HOST = "terrafusion-es-http.monitoring.svc"
ES_PORT = 9200
ES_URL = f"https://{ES_HOST}:{ES_PORT}"
ES_USER_ENV = "ES_USER"
ES_PASSWORD_ENV = "ES_PASSWORD"
# A value that must never appear in any rendered config (the builders only see env var names).
PASSWORD_VALUE = "s3cr3t-value-never-rendered"
CA_FILE = "/etc/es-tls/ca.crt"
SAMPLING_FILE = "/etc/jaeger/sampling/strategies.json"
JAEGER_OTLP = "jaeger-collector.monitoring.svc:4317"
CORS_ORIGINS = ["https://app.terrafusion.example", "https://*.terrafusion.example"]

