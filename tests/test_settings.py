"""Bad config stops the program with one clear line per problem, naming the key, before any
resource is declared; good config is parsed into typed settings."""

from __future__ import annotations

import pytest

from monitoring.durations import parse_duration
from plan import units
from stacks.config import ConfigError
from tools.mockrun import DELETE, run_stack

KEY = "terrafusion-monitoring"


def _error(stack: str, overrides: dict, **kwargs) -> str:
    run = None
    with pytest.raises(ConfigError) as raised:
        run = run_stack(stack, overrides, **kwargs)
    assert run is None
    return str(raised.value)


def test_malformed_duration_names_key_and_rule():
    message = _error("dev", {"prometheus.retention": "-3d"})
    assert message == f"{KEY}:prometheus.retention: '-3d' is not a duration (e.g. 15d, 36h, 1w)"


def test_unknown_environment_is_rejected():
    message = _error("dev", {"environment": "qa"})
    assert message.startswith(f"{KEY}:environment: 'qa' input should be 'dev', 'staging' or 'prod'")


def test_missing_required_section_is_named():
    assert _error("dev", {"thanos": DELETE}) == f"{KEY}:thanos: is required but not set"


def test_typo_in_top_level_key_is_reported_not_ignored():
    assert _error("dev", {"promethues": {"replicas": 2}}) == f"{KEY}:promethues: unknown config key (typo?)"


def test_typo_in_nested_key_is_reported_not_ignored():
    message = _error("dev", {"prometheus.replica": 2})
    assert f"{KEY}:prometheus.replica: 2 extra inputs are not permitted" in message


def test_compactor_raw_retention_must_outlive_5m_downsampling():
    message = _error("dev", {"thanos.compactor.retentionRaw": "30h"})
    assert message == (
        f"{KEY}:thanos.compactor.retentionRaw: '30h' must exceed 40h, when raw blocks are downsampled to 5m"
    )


def test_compactor_5m_retention_must_outlive_1h_downsampling():
    message = _error("dev", {"thanos.compactor.retention5m": "9d"})
    assert message.startswith(f"{KEY}:thanos.compactor.retention5m: '9d' must exceed 10d")


def test_evaluation_interval_must_divide_the_slo_records_window():
    message = _error("dev", {"prometheus.evaluationInterval": "45s"})
    assert message == (
        f"{KEY}:prometheus.evaluationInterval: '45s' does not divide 5m: the SLOs' 5m records would not "
        "tile the windows derived from them (monitoring/slo.py)"
    )


def test_limits_below_requests_are_rejected():
    message = _error("dev", {"prometheus.resources.limits.memory": "100Mi"})
    assert message == f"{KEY}:prometheus.resources.limits.memory: 100Mi is below requests.memory"


def test_prod_with_a_single_prometheus_is_rejected():
    message = _error("prod", {"prometheus.replicas": 1})
    assert message == f"{KEY}:prometheus.replicas: is 1; prod needs at least 2 for high availability"


def test_prod_with_two_alertmanagers_is_rejected():
    message = _error("prod", {"alertmanager.replicas": 2})
    assert message == f"{KEY}:alertmanager.replicas: is 2; prod needs at least 3 for high availability"


def test_grafana_replicas_without_shared_database_are_rejected():
    message = _error("prod", {"grafana.database": DELETE})
    assert message.startswith(f"{KEY}:grafana.database: is required when replicas is 2")


def test_s3_without_endpoint_is_rejected():
    message = _error("dev", {"objectStorage.endpoint": DELETE})
    assert message == f"{KEY}:objectStorage.endpoint: is required when type is S3"


def test_every_problem_is_reported_at_once():
    message = _error("dev", {"prometheus.retention": "soon", "alertmanager.replicas": 0})
    assert message.splitlines() == [
        f"{KEY}:prometheus.retention: 'soon' is not a duration (e.g. 15d, 36h, 1w)",
        f"{KEY}:alertmanager.replicas: 0 input should be greater than or equal to 1",
    ]


def test_missing_required_secret_says_how_to_set_it():
    message = _error("dev", {}, fill_required_secrets=False)
    assert message.splitlines()[0] == (
        f"{KEY}:objectStorageAccessKey: is required (S3 access key id for the Thanos bucket); "
        "set it with `pulumi config set --secret objectStorageAccessKey <value>`"
    )


def test_bad_config_declares_no_resource():
    from tools.mockrun import StackRun

    run = StackRun("dev", overrides={"prometheus.retention": "-3d"})
    with pytest.raises(ConfigError):
        run.execute()
    assert run.resources == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15d", 15 * 86400), ("1h30m", 5400), ("2w", 14 * 86400), ("1y", 365 * 86400), ("500ms", 0.5)],
)
def test_durations_parse_like_prometheus(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-3d", "3 days", "1d1w", "10"])
def test_non_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "value"), [("250m", 0.25), ("2", 2), ("512Mi", 512 * 2**20), ("1G", 10**9)])
def test_quantities_parse_like_kubernetes(text, value):
    assert float(units.quantity(text)) == value


def test_a_wildcard_cors_origin_is_rejected_before_any_resource():
    message = _error("dev", {"otelCollector.corsOrigins": ["*"]})
    assert message.startswith(f"{KEY}:otelCollector.corsOrigins[0]: '*' must be an origin such as")


def test_team_names_that_make_one_resource_name_are_rejected():
    teams = [{"name": n} for n in ("Executives", "Operations", "Developers", "Security", "security")]
    message = _error("dev", {"grafana.teams": teams})
    assert message == (
        f"{KEY}:grafana.teams: 'Security' and 'security' differ only in case or punctuation; "
        "both would be the resource 'security'"
    )


@pytest.mark.parametrize("namespace", ["kube-system", "default", "kube-public", "kube-node-lease"])
def test_a_kubernetes_system_namespace_is_rejected(namespace):
    message = _error("dev", {"namespace": namespace})
    assert message == (
        f"{KEY}:namespace: {namespace!r} is a Kubernetes system namespace (default, kube-*); pick one the platform owns"
    )


def test_a_tls_secret_without_the_ingress_is_rejected_not_ignored():
    message = _error("dev", {"grafana.ingress": {"enabled": False, "tlsSecretName": "grafana-tls"}})
    assert message == (
        f"{KEY}:grafana.ingress.enabled: is false, but tlsSecretName is set; there is no Ingress to apply it to"
    )


def test_a_stack_file_with_a_duplicate_key_is_rejected(tmp_path, monkeypatch):
    import tools.mockrun as mockrun

    (tmp_path / "Pulumi.twice.yaml").write_text("config:\n  a:b: 1\n  a:b: 2\n")
    monkeypatch.setattr(mockrun, "ROOT", tmp_path)
    with pytest.raises(ConfigError, match=r"^Pulumi\.twice\.yaml:3:3: duplicate key 'a:b' \(first set on line 2\)$"):
        mockrun.read_stack_file("twice")


# A monitoring spec names the key inside itself (monitoring/errors.py SpecError); the user reads the
# stack-file key, wherever the spec sits and however deep the model that raised it.
SAMPLING_OVERRIDE = {"service": "a", "operation": "GET /x", "probability": 0.5}


@pytest.mark.parametrize(
    ("stack", "overrides", "line"),
    [
        ("dev", {"jaeger.sampling.overrides": [SAMPLING_OVERRIDE] * 2},
         "jaeger.sampling.overrides[1]: duplicate override for service 'a' operation 'GET /x'"),
        ("prod", {"jaeger.sampling": {"overrides": [{"service": "a", "operation": "POST /checkout", "probability": 0.1}]}},
         "jaeger.sampling.overrides[0].probability: 0.1 for 'POST /checkout' is below 0.5; "
         "checkout/payment-like endpoints are sampled high"),
        ("dev", {"otelCollector.batchTimeout": "soon"}, "otelCollector.batchTimeout: 'soon' is not a duration like '100ms', '1s', '2m'"),
        ("dev", {"alerting.receivers.email": {"enabled": True}}, "alerting.receivers.email.to: required when email is enabled"),
        ("dev", {"alerting.maintenanceWindows": [{"name": "patch", "times": [{"startTime": "10:00", "endTime": "09:00"}]}]},
         "alerting.maintenanceWindows.patch.times[0].startTime: startTime 10:00 must be before endTime 09:00"),
        ("dev", {"influxdb.retention.database": "a b"},
         "influxdb.retention.database: 'a b' must be letters, digits and underscores, not starting with a digit"),
        ("dev", {"logs.families.app.rolloverMaxAge": "10m"},
         "logs.families.app.rolloverMaxAge: '10m' must be at least 1h (each rollover adds a backing index)"),
        ("prod", {"logs.families.audit.deleteAfter": "180d"},
         "logs.families.audit.deleteAfter: '180d' is below the prod minimum of 365d (the audit trail is kept at least a year)"),
        ("prod", {"logs.replicas": 1},
         "logs.replicas: is not set here any more: replica shards follow the Elasticsearch node count, for log and "
         "trace indices alike (remove the key)"),
    ],
)
def test_a_monitoring_spec_error_names_the_stack_file_key(stack, overrides, line):
    assert _error(stack, overrides) == f"{KEY}:{line}"
