"""The daily dependency-links CronJob (Jaeger's System Architecture tab): its script run with the
real sh, date, keytool (a Java runtime) and openssl, in front of a stand-in for spark-dependencies'
entrypoint that prints what the real job prints, or that starts a JVM with the script's JAVA_OPTS
making the TLS connection the job's connector makes (TruststoreProbe.java); the rendered CronJob (restricted pod, the job's
environment from the typed endpoints, the image variant for the deployed Elasticsearch); its
NetworkPolicies evaluated; its settings' errors."""

from __future__ import annotations

import calendar
import os
import ssl
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from monitoring.tracing import NO_LINKS_LINE, TRACE_STORAGE, dependencies_job_script
from plan.versions import ELASTICSEARCH_VERSION, SPARK_DEPENDENCIES_IMAGE
from tests.engines import HandlerServer, StandInHandler
from tests.helpers import config_error, require_tool
from tests.test_network_policies import model, pods_of, workload

KEY = "terrafusion-monitoring"
NOW = calendar.timegm(time.strptime("2026-11-26 00:15", "%Y-%m-%d %H:%M"))
YESTERDAY = "2026-11-25"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    """A self-signed CA in PEM, as ECK's `<cluster>-es-ca` Secret holds it (ca.crt)."""
    openssl = require_tool("openssl", "apt-get install openssl")
    out = tmp_path_factory.mktemp("ca")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=logs-es-ca", "-keyout", str(out / "ca.key"), "-out", str(out / "ca.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    return out / "ca.crt"


def _stand_in(tmp_path: Path, output: str, exit_code: int) -> Path:
    """spark-dependencies' entrypoint: records its arguments and JAVA_OPTS, prints `output` on
    stderr (where the job's log4j console appender writes), exits with `exit_code`."""
    path = tmp_path / "entrypoint.sh"
    path.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{tmp_path}/args"\n'
        f'printf "%s\\n" "$JAVA_OPTS" > "{tmp_path}/java_opts"\n'
        f"cat >&2 <<'EOF'\n{output}\nEOF\n"
        f"exit {exit_code}\n"
    )
    path.chmod(0o755)
    return path


def _run(tmp_path: Path, ca_file: Path, output: str = "", exit_code: int = 0, **env: str) -> subprocess.CompletedProcess:
    require_tool("keytool", "apt-get install openjdk-17-jdk-headless")
    script = tmp_path / "run.sh"
    script.write_text(dependencies_job_script())
    environment = {
        "PATH": os.environ["PATH"],
        "ES_NODES": "https://logs-es-http.monitoring.svc:9200",
        "ES_USERNAME": "jaeger",
        "ES_PASSWORD": "secret",
        "ES_INDEX_PREFIX": "traces",
        "ES_TIME_RANGE": "48h",
        "ES_CA_FILE": str(ca_file),
        "JAVA_OPTS": "-XX:MaxRAMPercentage=75.0",
        "TMPDIR": str(tmp_path),
        "NOW_EPOCH": str(NOW),
        "SPARK_ENTRYPOINT": str(_stand_in(tmp_path, output, exit_code)),
        **env,
    }
    return subprocess.run(["/bin/sh", str(script)], env=environment, capture_output=True, text=True, timeout=60)


def _truststore(java_opts: str) -> tuple[str, str]:
    store = re.search(r"-Djavax\.net\.ssl\.trustStore=(\S+)", java_opts)
    password = re.search(r"-Djavax\.net\.ssl\.trustStorePassword=(\S+)", java_opts)
    assert store and password, java_opts
    return store.group(1), password.group(1)


def test_the_run_computes_the_previous_utc_day_through_a_truststore_of_the_ca(tmp_path, ca_file):
    result = _run(tmp_path, ca_file, "Done, 4 dependency objects created")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "args").read_text().split() == [YESTERDAY]
    java_opts = (tmp_path / "java_opts").read_text()
    assert java_opts.startswith("-XX:MaxRAMPercentage=75.0 "), java_opts
    store, password = _truststore(java_opts)
    # The store is a Java key store holding the CA as a trusted certificate, with its fingerprint.
    listing = subprocess.run(
        ["keytool", "-list", "-v", "-keystore", store, "-storepass", password], capture_output=True, text=True, check=True
    ).stdout
    assert "Keystore type: JKS" in listing and "Entry type: trustedCertEntry" in listing, listing
    assert "Your keystore contains 1 entry" in listing
    fingerprint = subprocess.run(
        ["openssl", "x509", "-in", str(ca_file), "-noout", "-fingerprint", "-sha256"], capture_output=True, text=True, check=True
    ).stdout.split("=", 1)[1].strip()
    assert f"SHA256: {fingerprint}" in listing
    assert "Done, 4 dependency objects created" in result.stdout  # the job's log stays in the pod's log


def test_each_run_has_its_own_truststore_password(tmp_path, ca_file):
    first, second = tmp_path / "1", tmp_path / "2"
    first.mkdir(), second.mkdir()
    passwords = set()
    for run in (first, second):
        assert _run(run, ca_file).returncode == 0
        passwords.add(_truststore((run / "java_opts").read_text())[1])
    assert len(passwords) == 2 and all(len(p) == 32 for p in passwords), passwords


def test_a_day_given_explicitly_is_the_one_computed(tmp_path, ca_file):
    assert _run(tmp_path, ca_file, DAY="2026-11-01").returncode == 0
    assert (tmp_path / "args").read_text().split() == ["2026-11-01"]


def _openssl(*args: str) -> None:
    subprocess.run([require_tool("openssl", "apt-get install openssl"), *args], check=True, capture_output=True)


def _server_certificate(ca_file: Path, out: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by the CA of `ca_file` (its key beside it)."""
    key, request, cert = out / "server.key", out / "server.csr", out / "server.crt"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(request))  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca_file), "-CAkey", str(ca_file.with_suffix(".key")),
             "-days", "2", "-copy_extensions", "copy", "-out", str(cert))  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(ca_file, tmp_path_factory):
    """An HTTPS stand-in for Elasticsearch on 127.0.0.1 with a certificate of the CA."""
    cert, key = _server_certificate(ca_file, tmp_path_factory.mktemp("server"))

    class Handler(StandInHandler):
        def do_GET(self):  # noqa: N802
            self.reply(b"{}")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with HandlerServer(Handler, tls=context) as server:
        yield f"{server.url}/"


def _jvm_entrypoint(tmp_path: Path, url: str) -> Path:
    """In place of the image's entrypoint (`exec java ... ${JAVA_OPTS} ... "$@"`): a JVM with the
    JAVA_OPTS the script exported, connecting to `url` as the job's connector would."""
    java = require_tool("java", "apt-get install openjdk-17-jdk-headless")
    probe = Path(__file__).with_name("TruststoreProbe.java")
    path = tmp_path / "jvm.sh"
    path.write_text(f'#!/bin/sh\nexec {java} $JAVA_OPTS {probe} {url}\n')
    path.chmod(0o755)
    return path


def test_the_jvm_trusts_elasticsearch_through_the_truststore_the_script_builds(tmp_path, ca_file, tls_server):
    result = _run(tmp_path, ca_file, SPARK_ENTRYPOINT=str(_jvm_entrypoint(tmp_path, tls_server)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP 200" in result.stdout


def test_a_server_of_another_ca_is_refused(tmp_path, ca_file, tls_server, tmp_path_factory):
    other = tmp_path_factory.mktemp("other-ca")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=other-ca", "-keyout", str(other / "ca.key"), "-out", str(other / "ca.crt"))  # fmt: skip
    result = _run(tmp_path, other / "ca.crt", SPARK_ENTRYPOINT=str(_jvm_entrypoint(tmp_path, tls_server)))
    assert result.returncode != 0 and "HTTP 200" not in result.stdout
    assert "PKIX path building failed" in result.stdout, result.stdout


# What spark-dependencies v0.7.2 prints on a day whose `traces-jaeger-span-<day>` gives no link: the
# first index's line, then es-hadoop's refusal of the pre-1.9 name (spark-dependencies#136).
NO_LINKS_THEN_136 = f"""26/11/26 00:16:02 INFO ElasticsearchDependenciesJob: Running Dependencies job for {YESTERDAY}T00:00Z, reading from traces-jaeger-span-{YESTERDAY} index, result storing to traces-jaeger-dependencies-{YESTERDAY}
26/11/26 00:16:09 INFO ElasticsearchDependenciesJob: {NO_LINKS_LINE}
26/11/26 00:16:09 INFO ElasticsearchDependenciesJob: Running Dependencies job for {YESTERDAY}T00:00Z, reading from traces:jaeger-span-{YESTERDAY} index, result storing to traces:jaeger-dependencies-{YESTERDAY}
Exception in thread "main" org.elasticsearch.hadoop.rest.EsHadoopInvalidRequest: [HEAD] on [traces:jaeger-span-{YESTERDAY}] failed; server[https://logs-es-http.monitoring.svc:9200] returned [400|Bad Request:]
\tat org.elasticsearch.hadoop.rest.RestClient.checkResponse(RestClient.java:487)"""


def test_a_day_without_links_is_a_success_despite_the_upstream_failure(tmp_path, ca_file):
    result = _run(tmp_path, ca_file, NO_LINKS_THEN_136, exit_code=1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no dependency links on {YESTERDAY}" in result.stdout


@pytest.mark.parametrize(
    "output",
    [
        # Elasticsearch unreachable: nothing read at all.
        "Exception in thread \"main\" org.elasticsearch.hadoop.rest.EsHadoopNoNodesLeftException: Connection error",
        # Links found, then storing them failed: the same index name must not hide a lost day.
        NO_LINKS_THEN_136.replace(NO_LINKS_LINE, "Done, 3 dependency objects created"),
        # No link, but the failure is another day's index (a day argument the job did not use).
        NO_LINKS_THEN_136.replace(f"[HEAD] on [traces:jaeger-span-{YESTERDAY}]", "[HEAD] on [traces:jaeger-span-2026-11-24]"),
    ],
    ids=["unreachable", "links-then-failure", "other-day"],
)
def test_any_other_failure_fails_the_run(tmp_path, ca_file, output):
    result = _run(tmp_path, ca_file, output, exit_code=1)
    assert result.returncode == 1, result.stdout
    assert "no dependency links" not in result.stdout


def test_an_unreadable_ca_fails_before_the_job_starts(tmp_path, ca_file):
    result = _run(tmp_path, ca_file, ES_CA_FILE=str(tmp_path / "missing.crt"))
    assert result.returncode != 0
    assert not (tmp_path / "args").exists()


# --- the rendered CronJob ------------------------------------------------------------------------------


def _cron_job(rendered_objects, stack: str) -> list[dict[str, Any]]:
    return [o for o in rendered_objects[stack] if o["kind"] == "CronJob" and o["metadata"]["name"] == "jaeger-dependencies"]


@pytest.fixture(scope="module")
def cron_job(rendered_objects) -> dict[str, Any]:
    (job,) = _cron_job(rendered_objects, "prod")
    return job


def _pod(cron_job) -> dict[str, Any]:
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_prod_runs_the_job_daily_after_the_utc_day_and_dev_leaves_it_out(cron_job, rendered_objects):
    spec = cron_job["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("15 0 * * *", "Etc/UTC", "Forbid")
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1
    # A late start still reads the whole day: the range reaches back past its midnight.
    assert spec["startingDeadlineSeconds"] + (15 * 60) < 48 * 3600 - 24 * 3600
    assert not _cron_job(rendered_objects, "dev")


def test_the_pod_is_restricted_with_a_user_the_image_knows(cron_job):
    pod = _pod(cron_job)
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsUser"] == 65534 and pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/script", "/etc/jaeger/es-ca"} and all(
        m.get("readOnly") for path, m in mounts.items() if path != "/tmp"
    )
    # The JVM's heap follows the memory limit, which every setting of it has; Spark's task threads
    # the CPU the pod asks for (500m: one), not every core of the node.
    assert container["resources"]["limits"]["memory"] and "MaxRAMPercentage" in _env(container)["JAVA_OPTS"]
    assert (container["resources"]["requests"]["cpu"], _env(container)["SPARK_MASTER"]) == ("500m", "local[1]")


def _env(container) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_job_reads_and_writes_jaegers_indices_as_jaeger(cron_job, rendered_objects, prod):
    (container,) = _pod(cron_job)["containers"]
    env = _env(container)
    tracing = prod.result.plan.tracing
    assert env["ES_NODES"] == tracing.es.url() and env["ES_NODES"].startswith("https://")
    # The prefix Jaeger itself writes and reads with (its user config, as the chart gets it).
    backend = tracing.jaeger_values["userconfig"]["extensions"]["jaeger_storage"]["backends"][TRACE_STORAGE]
    assert env["ES_INDEX_PREFIX"] == backend["elasticsearch"]["indices"]["index_prefix"]
    assert env["ES_USERNAME"] == {"secretKeyRef": {"name": tracing.es_user.secret, "key": tracing.es_user.username_key}}
    assert env["ES_PASSWORD"] == {"secretKeyRef": {"name": tracing.es_user.secret, "key": tracing.es_user.password_key}}
    (ca_volume,) = [v for v in _pod(cron_job)["volumes"] if "secret" in v]
    assert ca_volume["secret"]["secretName"] == tracing.es.ca.name
    assert env["ES_CA_FILE"] == f"/etc/jaeger/es-ca/{tracing.es.ca.key}"
    # The script the pod runs is the one the tests above run.
    (config,) = [o for o in rendered_objects["prod"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "jaeger-dependencies"]
    assert container["command"] == ["/bin/sh", "/script/run.sh"] and config["data"]["run.sh"] == dependencies_job_script()


def test_the_image_variant_is_the_deployed_elasticsearch_major(cron_job):
    (container,) = _pod(cron_job)["containers"]
    assert container["image"] == SPARK_DEPENDENCIES_IMAGE
    assert SPARK_DEPENDENCIES_IMAGE.endswith(f"-elasticsearch{ELASTICSEARCH_VERSION.split('.')[0]}")


def test_the_job_pod_reaches_elasticsearch_and_accepts_nothing(rendered_objects, prod):
    objects, table = rendered_objects["prod"], prod.result.plan.network_policies.table
    cluster = model(objects)
    (pod,) = pods_of(cluster, workload(table, "jaeger-dependencies-job"))
    es = set(pods_of(cluster, workload(table, "elasticsearch")))
    assert es and all(cluster.allowed(pod, node, 9200) for node in es)
    # Its egress stays open like every platform pod's but for EgressLimit ones; it accepts nothing.
    assert not [s for s in cluster.pods for port in (4040, 8080, 9200) if cluster.allowed(s, pod, port)]


# --- settings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"jaeger.dependencies.resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            "jaeger.dependencies.resources.limits.memory: required, the JVM sizes its heap from it",
        ),
        ({"jaeger.dependencies.schedule": "TZ=UTC 15 0 * * *"}, "jaeger.dependencies.schedule: 'TZ=UTC 15 0 * * *' is not a cron schedule"),
    ],
)
def test_bad_dependencies_settings_are_one_line_naming_the_key(overrides, message):
    assert (error := config_error("prod", overrides)).startswith(f"{KEY}:{message}"), error
