"""Fluent Bit: the node DaemonSet pipeline (routing into families) and the single events collector."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml
from tests.logs_traces.logs_traces_helpers import CA_FILE, ES_HOST, ES_PASSWORD_ENV, ES_PORT, ES_USER_ENV, PASSWORD_VALUE

from monitoring.fluentbit import (
    FAMILY_LABEL,
    HTTP_PORT,
    STORAGE_PATH,
    fluentbit_config,
    fluentbit_events_config,
)
from monitoring.logs import LogFamily, LogsSpec, data_stream_name

_ACCESSOR = re.compile(r"\['([^']*)'\]")


def _lookup(record: dict[str, Any], key: str) -> Any:
    """Value of a record accessor such as $kubernetes['labels']['x'] (None when absent)."""
    head = key[1:].split("[", 1)[0]
    value: Any = record.get(head)
    for sub in _ACCESSOR.findall(key[1 + len(head):]):
        value = value.get(sub) if isinstance(value, dict) else None
    return value


def _route(config: dict[str, Any], tag: str, record: dict[str, Any]) -> str:
    """Tag a record ends with after the pipeline's rewrite_tag filter (first matching rule wins)."""
    for flt in config["pipeline"]["filters"]:
        if flt["name"] != "rewrite_tag" or not fnmatchcase(tag, flt["match"]):
            continue
        for rule in flt["rule"]:
            key, regex, new_tag, keep = rule.split()
            assert keep == "false"
            value = _lookup(record, key)
            match = re.search(regex, value) if isinstance(value, str) else None
            if match:
                return re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), new_tag)
    return tag


def _outputs_for(config: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [o for o in config["pipeline"]["outputs"] if fnmatchcase(tag, o["match"])]


def _record(**extra: Any) -> dict[str, Any]:
    record = {"log": "x", "kubernetes": {"namespace_name": "shop", "pod_name": "web-1", "labels": {"app": "web"}}}
    for key, value in extra.items():
        if key == "labels":
            record["kubernetes"]["labels"].update(value)
        elif key == "namespace":
            record["kubernetes"]["namespace_name"] = value
        else:
            record[key] = value
    return record


TAIL_TAG = "kube.var.log.containers.web-1_shop_web-abc.log"


def test_node_config_is_yaml_with_service_and_pipeline(fluentbit):
    assert set(fluentbit) == {"service", "pipeline"}
    assert set(fluentbit["pipeline"]) == {"inputs", "filters", "outputs"}


def test_tail_reads_container_logs_with_runtime_multiline_parsers(fluentbit):
    (tail,) = fluentbit["pipeline"]["inputs"]
    assert tail["name"] == "tail"
    assert tail["path"] == "/var/log/containers/*.log"
    assert {p.strip() for p in tail["multiline.parser"].split(",")} == {"cri", "docker"}
    assert tail["tag"] == "kube.*"


def test_kubernetes_filter_parses_json_app_logs(fluentbit):
    (k8s,) = [f for f in fluentbit["pipeline"]["filters"] if f["name"] == "kubernetes"]
    assert (k8s["merge_log"], k8s["keep_log"], k8s["k8s-logging.parser"]) == ("on", "off", "on")
    assert k8s["kube_tag_prefix"] == "kube.var.log.containers."
    names = [f["name"] for f in fluentbit["pipeline"]["filters"]]
    assert names.index("kubernetes") < names.index("rewrite_tag")  # labels exist before routing


@pytest.mark.parametrize(
    ("record", "family"),
    [
        (_record(labels={FAMILY_LABEL: "audit"}), LogFamily.AUDIT),
        (_record(event={"category": "authentication", "outcome": "failure"}), LogFamily.AUDIT),
        (_record(event={"category": "iam"}, level="debug"), LogFamily.AUDIT),  # audit wins over debug
        (_record(level="debug"), LogFamily.DEBUG),
        (_record(level="TRACE"), LogFamily.DEBUG),
        (_record(namespace="kube-system"), LogFamily.K8S),
        (_record(labels={FAMILY_LABEL: "debug"}, namespace="kube-system"), LogFamily.DEBUG),  # label wins
        (_record(level="info", message="hello"), LogFamily.APP),
        (_record(level="error", event={"category": "web"}), LogFamily.APP),
        ({"log": "no kubernetes metadata"}, LogFamily.APP),
    ],
)
def test_each_record_reaches_exactly_its_family_data_stream(fluentbit, record, family):
    tag = _route(fluentbit, TAIL_TAG, record)
    outputs = _outputs_for(fluentbit, tag)
    assert [o["index"] for o in outputs] == [data_stream_name(family)]


def test_router_never_matches_the_tags_it_emits(fluentbit):
    (router,) = [f for f in fluentbit["pipeline"]["filters"] if f["name"] == "rewrite_tag"]
    for rule in router["rule"]:
        new_tag = rule.split()[2].replace("$1", "audit")
        assert not fnmatchcase(new_tag, router["match"]), rule
        assert not any(fnmatchcase(new_tag, f["match"]) for f in fluentbit["pipeline"]["filters"])


def test_every_family_has_one_output_into_its_data_stream(fluentbit):
    indexes = [o["index"] for o in fluentbit["pipeline"]["outputs"]]
    assert sorted(indexes) == sorted(data_stream_name(f) for f in LogFamily)


def _es_outputs(config: dict[str, Any]) -> list[dict[str, Any]]:
    outputs = config["pipeline"]["outputs"]
    assert outputs and all(o["name"] == "es" for o in outputs)
    return outputs


@pytest.mark.parametrize("which", ["node", "events"])
def test_outputs_use_tls_with_the_eck_ca(fluentbit, fluentbit_events, which):
    config = fluentbit if which == "node" else fluentbit_events
    for output in _es_outputs(config):
        assert (output["tls"], output["tls.verify"], output["tls.ca_file"]) == ("on", "on", CA_FILE)
        assert (output["host"], output["port"]) == (ES_HOST, ES_PORT)


@pytest.mark.parametrize("which", ["node", "events"])
def test_outputs_take_credentials_from_the_environment(fluentbit, fluentbit_events, which):
    config = fluentbit if which == "node" else fluentbit_events
    for output in _es_outputs(config):
        assert output["http_user"] == "${" + ES_USER_ENV + "}"
        assert output["http_passwd"] == "${" + ES_PASSWORD_ENV + "}"
    assert PASSWORD_VALUE not in yaml.safe_dump(config)


def test_no_literal_password_can_be_rendered():
    with pytest.raises(AssertionError, match="es_password_env"):
        fluentbit_config(LogsSpec(), ES_HOST, ES_PORT, ES_USER_ENV, PASSWORD_VALUE, CA_FILE)
    with pytest.raises(AssertionError, match="es_password_env"):
        fluentbit_events_config(ES_HOST, ES_PORT, ES_USER_ENV, "p@ss word", CA_FILE)


@pytest.mark.parametrize("which", ["node", "events"])
def test_outputs_retry_forever_and_buffer_on_disk(fluentbit, fluentbit_events, which):
    config = fluentbit if which == "node" else fluentbit_events
    assert config["service"]["storage.path"] == STORAGE_PATH
    assert all(i["storage.type"] == "filesystem" for i in config["pipeline"]["inputs"])
    for output in _es_outputs(config):
        assert output["retry_limit"] in ("no_limits", "false", "False", False)
        assert re.fullmatch(r"\d+[KMG]", output["storage.total_limit_size"])
        # generate_id + unlimited retries would loop on an all-409 bulk answer (fluent-bit#11422)
        assert output["generate_id"] == "off"


def test_rerouted_records_are_buffered_on_disk_too(fluentbit):
    (router,) = [f for f in fluentbit["pipeline"]["filters"] if f["name"] == "rewrite_tag"]
    assert router["emitter_storage.type"] == "filesystem"


@pytest.mark.parametrize("which", ["node", "events"])
def test_outputs_write_data_streams_the_es8_way(fluentbit, fluentbit_events, which):
    config = fluentbit if which == "node" else fluentbit_events
    for output in _es_outputs(config):
        assert output["suppress_type_name"] == "on"
        assert output["replace_dots"] == "on"
        assert output["write_operation"] == "create"
        assert output["logstash_format"] == "off"


@pytest.mark.parametrize("which", ["node", "events"])
def test_metrics_server_is_on_for_the_service_monitor(fluentbit, fluentbit_events, which):
    service = (fluentbit if which == "node" else fluentbit_events)["service"]
    assert (service["http_server"], service["http_port"], service["http_listen"]) == ("on", HTTP_PORT, "0.0.0.0")
    assert HTTP_PORT == 2020


def test_events_config_has_exactly_the_kubernetes_events_input(fluentbit_events):
    inputs = fluentbit_events["pipeline"]["inputs"]
    assert [i["name"] for i in inputs] == ["kubernetes_events"]
    assert "filters" not in fluentbit_events["pipeline"]  # nothing re-tags events


def test_events_go_to_the_k8s_family(fluentbit_events):
    (event_input,) = fluentbit_events["pipeline"]["inputs"]
    (output,) = _es_outputs(fluentbit_events)
    assert fnmatchcase(event_input["tag"], output["match"])
    assert output["index"] == data_stream_name(LogFamily.K8S)


def test_node_pipeline_does_not_collect_events(fluentbit):
    assert "kubernetes_events" not in {i["name"] for i in fluentbit["pipeline"]["inputs"]}


def test_config_text_is_deterministic(logs_spec):
    args = (logs_spec, ES_HOST, ES_PORT, ES_USER_ENV, ES_PASSWORD_ENV, CA_FILE)
    assert fluentbit_config(*args) == fluentbit_config(*args)
