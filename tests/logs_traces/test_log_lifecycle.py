"""Log families: ILM policies, index templates, the apply requests and the environments' bounds."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from pydantic import ValidationError

from monitoring.logs import (
    LogFamily,
    LogsSpec,
    data_stream_name,
    es_requests,
    es_requests_hash,
    es_time_seconds,
    ilm_policies,
    index_templates,
    policy_name,
    check_retention_bounds,
    template_name,
)
from monitoring.environments import POLICIES


def _seconds(value: str) -> int:
    return 0 if value == "0ms" else es_time_seconds(value, "test")


def test_every_family_has_one_policy_and_one_template(logs_spec):
    families = [f.value for f in LogFamily]
    assert list(ilm_policies(logs_spec)) == [policy_name(f) for f in families]
    assert list(index_templates(logs_spec, 1)) == [template_name(f) for f in families]


def test_ilm_phases_run_hot_warm_delete_with_growing_ages(logs_spec):
    for name, body in ilm_policies(logs_spec).items():
        phases = body["policy"]["phases"]
        order = [p for p in ("hot", "warm", "cold", "frozen", "delete") if p in phases]
        assert list(phases) == order, name
        ages = [_seconds(phases[p]["min_age"]) for p in order]
        assert ages == sorted(ages) and len(set(ages)) == len(ages), f"{name}: {ages}"
        assert phases["delete"]["actions"] == {"delete": {}}


def test_ilm_durations_come_from_the_family_settings():
    spec = LogsSpec.model_validate(
        {"families": {"app": {"rolloverMaxAge": "12h", "rolloverMaxPrimaryShardSize": "20gb",
                              "warmAfter": "1d", "deleteAfter": "45d"}}}
    )
    phases = ilm_policies(spec)[policy_name("app")]["policy"]["phases"]
    assert phases["hot"]["actions"]["rollover"] == {"max_age": "12h", "max_primary_shard_size": "20gb"}
    assert phases["warm"]["min_age"] == "1d"
    assert phases["warm"]["actions"]["readonly"] == {}
    assert phases["warm"]["actions"]["forcemerge"] == {"max_num_segments": 1}
    assert phases["delete"]["min_age"] == "45d"


def test_audit_is_kept_a_year_and_debug_days_by_default(logs_spec):
    assert _seconds(logs_spec.family("audit").delete_after) >= 365 * 86400
    assert _seconds(logs_spec.family("debug").delete_after) <= 7 * 86400
    for policy in POLICIES.values():  # the defaults satisfy every environment
        check_retention_bounds(logs_spec, policy)


def test_a_family_without_warm_after_has_no_warm_phase(logs_spec):
    assert logs_spec.family("debug").warm_after is None
    assert "warm" not in ilm_policies(logs_spec)[policy_name("debug")]["policy"]["phases"]


def test_a_partial_family_keeps_its_other_defaults():
    spec = LogsSpec.model_validate({"families": {"app": {"deleteAfter": "60d"}}})
    assert spec.family("app").delete_after == "60d"
    assert spec.family("app").rollover_max_age == LogsSpec().family("app").rollover_max_age
    assert spec.family("audit") == LogsSpec().family("audit")
    empty = LogsSpec.model_validate({"families": {"app": None}})  # `app:` with nothing under it
    assert empty.family("app") == LogsSpec().family("app")


@pytest.mark.parametrize(
    ("families", "message"),
    [
        ({"debug": {"deleteAfter": "0d"}}, "families.debug.deleteAfter: '0d' must be at least 1d"),
        ({"app": {"deleteAfter": "30 days"}}, "families.app.deleteAfter: '30 days' is not an Elasticsearch time value"),
        ({"app": {"deleteAfter": "4w"}}, "families.app.deleteAfter: '4w' is not an Elasticsearch time value"),
        ({"k8s": {"warmAfter": "20d", "deleteAfter": "14d"}}, "families.k8s.warmAfter: '20d' must be before deleteAfter"),
        ({"app": {"rolloverMaxPrimaryShardSize": "50GB!"}}, "families.app.rolloverMaxPrimaryShardSize: '50GB!'"),
        ({"app": {"rolloverMaxAge": "10m"}}, "families.app.rolloverMaxAge: '10m' must be at least 1h"),
        ({"metrics": {"deleteAfter": "3d"}}, "families.metrics: unknown log family"),
        ({"app": {"deleteAftr": "3d"}}, "deleteAftr"),
    ],
)
def test_invalid_lifecycle_is_rejected_naming_the_key_inside_the_spec(families, message):
    with pytest.raises(ValidationError) as error:
        LogsSpec.model_validate({"families": families})
    assert message in str(error.value) and "logs." not in str(error.value)


def test_prod_rejects_audit_kept_less_than_a_year():
    spec = LogsSpec.model_validate({"families": {"audit": {"deleteAfter": "180d"}}})
    with pytest.raises(ValueError, match=r"^families\.audit\.deleteAfter: '180d' is below the prod minimum of 365d"):
        check_retention_bounds(spec, POLICIES["prod"])


def test_prod_rejects_debug_kept_for_weeks():
    spec = LogsSpec.model_validate({"families": {"debug": {"deleteAfter": "30d"}}})
    with pytest.raises(ValueError, match=r"^families\.debug\.deleteAfter: '30d' exceeds the prod maximum"):
        check_retention_bounds(spec, POLICIES["prod"])


def test_dev_may_keep_audit_shorter():
    spec = LogsSpec.model_validate({"families": {"audit": {"deleteAfter": "30d"}}})
    assert check_retention_bounds(spec, POLICIES["dev"]) is spec


def test_replicas_are_not_a_log_setting_any_more():
    with pytest.raises(ValidationError, match=r"replicas: is not set here any more: replica shards follow"):
        LogsSpec.model_validate({"replicas": 1})


def test_templates_reference_their_own_policy(logs_spec):
    policies = ilm_policies(logs_spec)
    for family in LogFamily:
        settings = index_templates(logs_spec, 1)[template_name(family)]["template"]["settings"]
        assert settings["index.lifecycle.name"] == policy_name(family)
        assert settings["index.lifecycle.name"] in policies


def test_template_patterns_do_not_overlap_and_catch_their_data_stream(logs_spec):
    patterns = {name: body["index_patterns"] for name, body in index_templates(logs_spec, 1).items()}
    flat = [(name, p) for name, ps in patterns.items() for p in ps]
    for i, (name_a, a) in enumerate(flat):
        for name_b, b in flat[i + 1:]:
            # Trailing-* patterns overlap exactly when one literal prefix starts with the other.
            pa, pb = a.rstrip("*"), b.rstrip("*")
            assert "*" not in pa and "*" not in pb
            assert not (pa.startswith(pb) or pb.startswith(pa)), f"{name_a} {a} overlaps {name_b} {b}"
    for family in LogFamily:
        matching = [name for name, p in flat if fnmatchcase(data_stream_name(family), p)]
        assert matching == [template_name(family)]


def test_templates_leave_jaeger_indices_alone(logs_spec):
    patterns = [p for body in index_templates(logs_spec, 1).values() for p in body["index_patterns"]]
    for index in ("terrafusion-jaeger-span-2026-08-21", "terrafusion-jaeger-service-2026-08-21"):
        assert not any(fnmatchcase(index, p) for p in patterns)


def test_templates_are_data_streams_that_outrank_the_builtin_logs_template(logs_spec):
    for body in index_templates(logs_spec, 1).values():
        assert body["data_stream"] == {}
        assert body["priority"] > 500  # built-in logs-*-* is 100; Elastic asks for > 500
        assert body["template"]["data_stream_options"] == {"failure_store": {"enabled": True}}


def test_mappings_cover_the_log_contract(logs_spec):
    for name, body in index_templates(logs_spec, 1).items():
        props = body["template"]["mappings"]["properties"]
        assert props["@timestamp"]["type"] in ("date", "date_nanos"), name
        assert props["message"]["type"] == "text"
        assert props["level"]["type"] == "keyword"
        assert props["trace_id"]["type"] == "keyword"
        assert props["kubernetes"]["properties"]["namespace_name"]["type"] == "keyword"
        assert props["event"]["properties"]["category"]["type"] == "keyword"
    k8s = index_templates(logs_spec, 1)[template_name("k8s")]["template"]["mappings"]["properties"]
    assert k8s["involvedObject"]["properties"]["kind"]["type"] == "keyword"


def test_replicas_reach_every_template():
    for replicas in (0, 2):
        templates = index_templates(LogsSpec(), replicas).values()
        assert {b["template"]["settings"]["index.number_of_replicas"] for b in templates} == {replicas}


def test_es_requests_put_every_policy_before_any_template(logs_spec):
    requests = es_requests(logs_spec, 1)
    kinds = ["policy" if path.startswith("/_ilm/policy/") else "template" for _, path, _ in requests]
    assert kinds == ["policy"] * len(LogFamily) + ["template"] * len(LogFamily)
    assert {method for method, _, _ in requests} == {"PUT"}  # whole-object PUTs: re-runs are no-ops
    bodies = {path: body for _, path, body in requests}
    assert bodies[f"/_index_template/{template_name('audit')}"] == index_templates(logs_spec, 1)[template_name("audit")]


def test_es_requests_hash_is_stable_and_follows_retention_and_replicas(logs_spec):
    assert es_requests_hash(logs_spec, 1) == es_requests_hash(LogsSpec(), 1)
    changed = LogsSpec.model_validate({"families": {"app": {"deleteAfter": "31d"}}})
    assert es_requests_hash(changed, 1) != es_requests_hash(logs_spec, 1)
    assert es_requests_hash(logs_spec, 0) != es_requests_hash(logs_spec, 1)
    assert len(es_requests_hash(logs_spec, 1)) == 10


def test_spec_is_frozen_and_accepts_snake_case(logs_spec):
    spec = LogsSpec.model_validate({"families": {"app": {"delete_after": "20d"}}})
    assert spec.family("app").delete_after == "20d"
    with pytest.raises(ValidationError):
        logs_spec.replicas = 3  # type: ignore[misc]
