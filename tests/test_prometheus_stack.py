"""kube-prometheus-stack: what the values make the chart deploy, and how it is wired."""

from __future__ import annotations

from plan.prometheus_stack import REPLICA_LABEL
from plan.versions import KUBE_PROMETHEUS_STACK, THANOS_IMAGE_TAG


def _values(run):
    return run.chart("kube-prometheus-stack").plain_inputs["values"]


def test_chart_is_pinned_to_the_versions_module(dev):
    chart = dev.chart("kube-prometheus-stack").inputs
    assert (chart["version"], chart["repositoryOpts"]["repo"]) == (
        KUBE_PROMETHEUS_STACK.version,
        KUBE_PROMETHEUS_STACK.repository,
    )


def test_bundled_grafana_is_disabled(dev):
    assert _values(dev)["grafana"]["enabled"] is False


def test_hook_based_features_are_off_for_v4_chart(dev):
    operator = _values(dev)["prometheusOperator"]
    assert operator["admissionWebhooks"]["enabled"] is False
    assert operator["admissionWebhooks"]["patch"]["enabled"] is False
    # TLS on would mount the hook-created admission Secret and block the operator pod.
    assert operator["tls"]["enabled"] is False
    assert _values(dev)["crds"]["upgradeJob"]["enabled"] is False


def test_prometheus_selects_objects_from_every_release(dev):
    spec = _values(dev)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind


def test_chart_default_rules_are_on_less_the_decided_groups_and_duplicates(dev):
    from monitoring.upstream_rules import RULE_GROUPS, disabled_alerts

    rules = _values(dev)["defaultRules"]
    assert rules["create"] is True
    assert rules["rules"] == {g.key: g.enabled for g in RULE_GROUPS}
    assert rules["disabled"] == {name: True for name in disabled_alerts()}


def test_upstream_rules_get_p_levels_from_the_release_object_patch(dev):
    from components.chart import OBJECT_PATCHES
    from plan.prometheus_stack import release_patch

    assert OBJECT_PATCHES[dev.chart("kube-prometheus-stack").name] is release_patch


def test_sidecar_reads_the_object_storage_secret_the_program_declares(dev):
    thanos = _values(dev)["prometheus"]["prometheusSpec"]["thanos"]
    ref = thanos["objectStorageConfig"]["existingSecret"]
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-objstore").plain_inputs
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in secret["stringData"]


def test_sidecar_image_matches_the_thanos_chart_release(dev):
    assert _values(dev)["prometheusOperator"]["thanosImage"]["tag"] == THANOS_IMAGE_TAG


def test_alertmanager_uses_the_program_rendered_config_secret(dev):
    spec = _values(dev)["alertmanager"]["alertmanagerSpec"]
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-alerting-config").plain_inputs
    assert spec["useExistingSecret"] is True
    assert spec["configSecret"] == secret["metadata"]["name"]
    assert "alertmanager.yaml" in secret["stringData"]


def test_replicas_carry_the_label_thanos_deduplicates_on(dev):
    assert _values(dev)["prometheus"]["prometheusSpec"]["replicaExternalLabelName"] == REPLICA_LABEL
    assert REPLICA_LABEL in dev.chart("thanos").plain_inputs["values"]["additionalReplicaLabels"]


def test_series_carry_cluster_and_environment_labels(prod):
    labels = _values(prod)["prometheus"]["prometheusSpec"]["externalLabels"]
    assert labels == {"cluster": "terrafusion-prod", "environment": "prod"}


def test_single_replica_dev_has_no_blocking_pdb(dev):
    assert _values(dev)["prometheus"]["podDisruptionBudget"]["enabled"] is False
    assert _values(dev)["alertmanager"]["podDisruptionBudget"]["enabled"] is False


def test_prod_prometheus_runs_two_replicas_on_separate_nodes(prod):
    values = _values(prod)
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["replicas"] >= 2
    assert spec["podAntiAffinity"] == "hard"
    assert values["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}


def test_prod_alertmanager_runs_three_replicas_with_pdb(prod):
    values = _values(prod)
    assert values["alertmanager"]["alertmanagerSpec"]["replicas"] >= 3
    assert values["alertmanager"]["podDisruptionBudget"]["enabled"] is True


def test_prometheus_and_alertmanager_are_persistent(prod):
    values = _values(prod)
    prom = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    am = values["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert prom["resources"]["requests"]["storage"] == "200Gi"
    assert prom["storageClassName"] == am["storageClassName"] == "gp3-retain"


def test_dev_volumes_use_the_cluster_default_storage_class(dev):
    spec = _values(dev)["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert "storageClassName" not in spec
