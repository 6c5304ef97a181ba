"""Jaeger sampling strategies (schema, policy) and the Jaeger v2 configuration."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from tests.logs_traces.logs_traces_helpers import CA_FILE, ES_PASSWORD_ENV, ES_URL, ES_USER_ENV, PASSWORD_VALUE, SAMPLING_FILE
from pydantic import ValidationError

from monitoring.tracing import (
    DEFAULT_HEALTH_OPERATIONS,
    SamplingSpec,
    jaeger_user_config,
    sampling_strategies,
    sampling_strategies_json,
    sampling_strategies_schema,
)


def _validator() -> jsonschema.Draft202012Validator:
    schema = sampling_strategies_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _served(strategies: dict[str, Any], service: str) -> dict[str, float]:
    """Per-operation probabilities Jaeger serves a service, merging default_strategy's operation
    strategies into a listed service as Jaeger's file provider does (provider.go parseStrategies)."""
    default = strategies["default_strategy"]
    own = next((s for s in strategies["service_strategies"] if s["service"] == service), None)
    if own is None:
        return {o["operation"]: o["param"] for o in default.get("operation_strategies", [])}
    ops = {o["operation"]: o["param"] for o in own.get("operation_strategies", [])}
    for o in default.get("operation_strategies", []):
        ops.setdefault(o["operation"], o["param"])
    return ops


@pytest.mark.parametrize("environment", ["dev", "prod", "staging"])
def test_default_strategies_validate_against_the_schema(environment):
    errors = list(_validator().iter_errors(sampling_strategies(SamplingSpec(environment=environment))))
    assert errors == []


def test_strategies_with_overrides_validate_against_the_schema(checkout_sampling):
    spec = checkout_sampling.model_copy(update={"rate_limited_services": {"batch-importer": 5}})
    assert list(_validator().iter_errors(sampling_strategies(spec))) == []


@pytest.mark.parametrize(
    "document",
    [
        {"default_strategy": {"type": "probabilistic", "param": 1.5}},
        {"default_strategy": {"type": "always_on", "param": 1}},
        {"default_strategy": {"type": "probabilistic", "param": 0.1, "service": "x"}},
        {"default_strategy": {"type": "probabilistic", "param": 0.1, "operation_stratgies": []}},
        {"service_strategies": [{"type": "probabilistic", "param": 0.1}]},
        {"service_strategies": [{"service": "a", "type": "ratelimiting", "param": 2.5}]},
        {"service_strategies": [{"service": "a", "type": "probabilistic", "param": 0.5,
                                 "operation_strategies": [{"operation": "x", "type": "ratelimiting", "param": 1}]}]},
        {"default_strategy": {"type": "probabilistic", "param": 0.1}, "service_strategy": []},
    ],
)
def test_schema_rejects_malformed_strategies(document):
    assert list(_validator().iter_errors(document)) != []


def test_health_checks_are_never_sampled_in_any_service(checkout_sampling):
    strategies = sampling_strategies(checkout_sampling)
    for service in ("checkout", "catalog", "some-unlisted-service"):
        served = _served(strategies, service)
        for operation in DEFAULT_HEALTH_OPERATIONS:
            assert served[operation] == 0, (service, operation)
    assert "GET /healthz" in DEFAULT_HEALTH_OPERATIONS


def test_checkout_and_payment_are_sampled_high(checkout_sampling):
    strategies = sampling_strategies(checkout_sampling)
    assert _served(strategies, "checkout")["POST /api/checkout"] == 1.0
    assert _served(strategies, "payment")["POST /api/payments"] >= 0.5
    assert strategies["default_strategy"]["param"] == 0.1  # everything else: prod default


def test_checkout_sampled_low_is_rejected():
    with pytest.raises(ValidationError) as error:
        SamplingSpec(environment="prod", overrides=[{"service": "checkout", "operation": "POST /checkout",
                                                     "probability": 0.01}])
    assert "Value error, overrides[0].probability: 0.01 for 'POST /checkout' is below 0.5" in str(error.value)


def test_health_check_sampled_above_zero_is_rejected():
    with pytest.raises(ValidationError, match=r"Value error, overrides\[0\]\.probability: 0\.2 for health"):
        SamplingSpec(environment="dev", overrides=[{"service": "web", "operation": "GET /readyz", "probability": 0.2}])


def test_probability_outside_zero_one_is_rejected():
    with pytest.raises(ValidationError):
        SamplingSpec(environment="dev", overrides=[{"service": "web", "operation": "GET /", "probability": 1.2}])
    with pytest.raises(ValidationError):
        SamplingSpec(environment="dev", default_probability=-0.1)


def test_duplicate_override_is_rejected():
    override = {"service": "web", "operation": "GET /a", "probability": 0.3}
    with pytest.raises(ValidationError, match=r"Value error, overrides\[1\]: duplicate override"):
        SamplingSpec(environment="dev", overrides=[override, override])


def test_default_probability_follows_the_environment():
    assert sampling_strategies(SamplingSpec(environment="prod"))["default_strategy"]["param"] == 0.1
    assert sampling_strategies(SamplingSpec(environment="dev"))["default_strategy"]["param"] == 1.0
    explicit = SamplingSpec(environment="prod", default_probability=0.25)
    assert sampling_strategies(explicit)["default_strategy"]["param"] == 0.25


def test_service_with_overrides_keeps_the_default_for_other_endpoints(checkout_sampling):
    strategies = sampling_strategies(checkout_sampling)
    catalog = next(s for s in strategies["service_strategies"] if s["service"] == "catalog")
    assert (catalog["type"], catalog["param"]) == ("probabilistic", 0.1)


def test_rate_limited_service_is_served_ratelimiting_and_cannot_have_overrides():
    spec = SamplingSpec(environment="prod", rate_limited_services={"batch-importer": 5})
    (strategy,) = sampling_strategies(spec)["service_strategies"]
    assert strategy == {"service": "batch-importer", "type": "ratelimiting", "param": 5}
    with pytest.raises(ValidationError, match=r"overrides\[0\]\.service: 'batch-importer' is in rateLimitedServices"):
        SamplingSpec(environment="prod", rate_limited_services={"batch-importer": 5},
                     overrides=[{"service": "batch-importer", "operation": "import", "probability": 0.5}])


def test_strategies_file_text_is_deterministic_json(checkout_sampling):
    text = sampling_strategies_json(checkout_sampling)
    assert text == sampling_strategies_json(checkout_sampling)
    assert json.loads(text) == sampling_strategies(checkout_sampling)


# --- Jaeger v2 ---------------------------------------------------------------------------------


def test_jaeger_serves_the_strategies_file(jaeger):
    assert "remote_sampling" in jaeger["service"]["extensions"]
    sampling = jaeger["extensions"]["remote_sampling"]
    assert sampling["file"]["path"] == SAMPLING_FILE
    assert sampling["file"]["reload_interval"]  # a ConfigMap update is picked up without restart
    assert "adaptive" not in sampling
    assert sampling["http"]["endpoint"].endswith(":5778")


def test_jaeger_stores_traces_in_elasticsearch_with_env_credentials(jaeger):
    backends = jaeger["extensions"]["jaeger_storage"]["backends"]
    (backend,) = backends.values()
    es = backend["elasticsearch"]
    assert es["server_urls"] == [ES_URL]
    assert es["auth"]["basic"] == {"username": "${env:" + ES_USER_ENV + "}",
                                   "password": "${env:" + ES_PASSWORD_ENV + "}"}
    assert es["tls"]["ca_file"] == CA_FILE and es["tls"]["insecure"] is False
    assert es["indices"]["index_prefix"] == "terrafusion"
    assert PASSWORD_VALUE not in json.dumps(jaeger)


def test_jaeger_pipeline_and_extensions_refer_to_defined_components(jaeger):
    pipeline = jaeger["service"]["pipelines"]["traces"]
    assert pipeline == {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline[kind]:
            assert name in jaeger[kind]
    for name in jaeger["service"]["extensions"]:
        assert name in jaeger["extensions"]
    backends = jaeger["extensions"]["jaeger_storage"]["backends"]
    assert jaeger["extensions"]["jaeger_query"]["storage"]["traces"] in backends
    assert jaeger["exporters"]["jaeger_storage_exporter"]["trace_storage"] in backends


def test_jaeger_exposes_health_and_metrics(jaeger):
    assert jaeger["extensions"]["healthcheckv2"]["use_v2"] is True
    (reader,) = jaeger["service"]["telemetry"]["metrics"]["readers"]
    assert reader["pull"]["exporter"]["prometheus"]["port"] == 8888


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ES_URL.replace("https", "http"), ES_USER_ENV, ES_PASSWORD_ENV), "es_url"),
        ((ES_URL, ES_USER_ENV, PASSWORD_VALUE), "es_password_env"),
    ],
)
def test_jaeger_refuses_plaintext_es_and_literal_passwords(args, message):
    with pytest.raises(AssertionError, match=message):
        jaeger_user_config(*args, CA_FILE, SAMPLING_FILE, "terrafusion")
