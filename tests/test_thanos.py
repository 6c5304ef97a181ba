"""Thanos: query fans out to the sidecars and the store gateway; the compactor keeps data long
enough to downsample it; all read the same bucket."""

from __future__ import annotations

from plan.prometheus_stack import (
    REPLICA_LABEL,
    THANOS_RULER_GOVERNING_SERVICE,
    THANOS_RULER_REPLICA_LABEL,
    THANOS_SIDECAR_SERVICE,
)
from plan.versions import THANOS, THANOS_IMAGE_TAG
from monitoring.durations import parse_duration
from monitoring.windows import QUERY_AUTO_DOWNSAMPLING
from plan.settings import DOWNSAMPLE_1H_AFTER_SECONDS, DOWNSAMPLE_5M_AFTER_SECONDS


def _values(run):
    return run.chart("thanos").plain_inputs["values"]


def _flag(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return value


def test_chart_is_the_stevehipwell_chart_pinned(dev):
    inputs = dev.chart("thanos").inputs
    assert inputs["repositoryOpts"]["repo"] == THANOS.repository
    assert inputs["version"] == THANOS.version
    assert _values(dev)["image"]["tag"] == THANOS_IMAGE_TAG


def test_chart_does_not_create_its_own_filesystem_bucket(dev):
    objstore = _values(dev)["objstoreConfig"]
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-objstore").plain_inputs
    assert objstore["create"] is False
    assert (objstore["name"], objstore["key"]) == (secret["metadata"]["name"], "objstore.yml")


def test_query_discovers_every_prometheus_sidecar_and_thanos_ruler(dev):
    assert _values(dev)["additionalEndpoints"] == [
        f"dnssrv+_grpc._tcp.{THANOS_SIDECAR_SERVICE}.monitoring.svc.cluster.local",
        f"dnssrv+_grpc._tcp.{THANOS_RULER_GOVERNING_SERVICE}.monitoring.svc.cluster.local",
    ]


def test_query_deduplicates_prometheus_and_ruler_replicas(dev):
    assert _values(dev)["additionalReplicaLabels"] == [REPLICA_LABEL, THANOS_RULER_REPLICA_LABEL]


def test_range_queries_may_read_downsampled_blocks(dev):
    # The long panels' minimum step selects the 5m tier only if Query auto-downsamples.
    assert QUERY_AUTO_DOWNSAMPLING in _values(dev)["query"]["extraArgs"]


def test_query_frontend_store_gateway_and_compactor_are_on(dev):
    values = _values(dev)
    assert all(values[c]["enabled"] for c in ("query", "queryFrontend", "storeGateway", "compact"))
    assert values["rule"]["enabled"] is False and values["receive"]["enabled"] is False


def test_compactor_retention_outlives_downsampling(prod):
    args = _values(prod)["compact"]["extraArgs"]
    assert parse_duration(_flag(args, "retention.resolution-raw")) > DOWNSAMPLE_5M_AFTER_SECONDS
    assert parse_duration(_flag(args, "retention.resolution-5m")) > DOWNSAMPLE_1H_AFTER_SECONDS
    assert _flag(args, "retention.resolution-1h") == "2y"


def test_prod_query_path_is_highly_available(prod):
    values = _values(prod)
    for component in ("query", "queryFrontend", "storeGateway"):
        assert values[component]["replicas"] >= 2, component
        assert values[component]["podDisruptionBudget"]["enabled"] is True, component


def test_store_gateway_and_compactor_are_persistent(prod):
    values = _values(prod)
    assert values["storeGateway"]["persistence"] == {"enabled": True, "size": "50Gi", "storageClass": "gp3-retain"}
    assert values["compact"]["persistence"]["enabled"] is True


def test_thanos_waits_for_the_operator_crds(dev):
    # The chart itself must wait: the engine does not pass a component's depends_on to children.
    assert dev.chart("kube-prometheus-stack").urn in dev.chart("thanos").depends_on
