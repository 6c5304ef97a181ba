"""Every chart and image version the platform deploys, one line each, with its upstream source.

Bumping a version is a one-line change here; the mocks tests pin that every chart a stack
declares takes its version from this module, and `make render` shows the change in review.

Each version line follows a `# renovate:` comment naming its datasource and package, which the
regex custom manager in renovate.json reads (Renovate then proposes bumps of these lines). A new
pin needs one: tests/test_versions.py runs that regex with node against this file and compares
what it extracts with what this module pins.
Ref: https://docs.renovatebot.com/modules/manager/regex/
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartRef:
    """A Helm chart pinned to one version in one repository."""

    chart: str
    version: str
    repository: str


# Ref: https://github.com/prometheus-community/helm-charts/blob/main/charts/kube-prometheus-stack/Chart.yaml
# (88.5.3: prometheus-operator v0.93.1, Prometheus v3.14.0, Alertmanager v0.34.0)
# renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
KUBE_PROMETHEUS_STACK = ChartRef(chart="kube-prometheus-stack", version="88.5.3", repository="https://prometheus-community.github.io/helm-charts")

# Ref: https://github.com/stevehipwell/helm-charts/blob/main/charts/thanos/Chart.yaml
# (1.24.1: appVersion 0.42.4, image quay.io/thanos/thanos). Not Bitnami: its Thanos images froze in 2025.
# renovate: datasource=helm depName=thanos registryUrl=https://stevehipwell.github.io/helm-charts/
THANOS = ChartRef(chart="thanos", version="1.24.1", repository="https://stevehipwell.github.io/helm-charts/")

# Ref: https://github.com/grafana-community/helm-charts/blob/main/charts/grafana/Chart.yaml
# (12.11.1: appVersion 13.2.0). The grafana/helm-charts copy of this chart is frozen.
# renovate: datasource=helm depName=grafana registryUrl=https://grafana-community.github.io/helm-charts
GRAFANA = ChartRef(chart="grafana", version="12.11.1", repository="https://grafana-community.github.io/helm-charts")

# Image tags set explicitly. Prometheus (v3.14.0) and Alertmanager (v0.34.0) images stay as the
# kube-prometheus-stack version above pins them; the Thanos tag is set so the sidecar that the
# operator injects and the Thanos chart's components always run the same release. Each `*_IMAGE`
# names the image of its tag (the program sets only the tag where the chart's image is the one).
# Ref: kube-prometheus-stack 88.5.3 values.yaml prometheusOperator.thanosImage; thanos 1.24.1 values.yaml
# `image` (quay.io/thanos/thanos, tag `v` + appVersion)
THANOS_IMAGE = "quay.io/thanos/thanos"
# renovate: datasource=docker depName=quay.io/thanos/thanos versioning=docker
THANOS_IMAGE_TAG = "v0.42.4"
# Ref: grafana-community/helm-charts charts/grafana 12.11.1 Chart.yaml appVersion; values.yaml `image`
# (registry docker.io, repository grafana/grafana)
GRAFANA_IMAGE = "docker.io/grafana/grafana"
# renovate: datasource=docker depName=docker.io/grafana/grafana versioning=docker
GRAFANA_IMAGE_TAG = "13.2.0"
# Grafana's dashboard sidecar (quay.io/kiwigrid/k8s-sidecar 2.10.1) stays as grafana 12.11.1 pins it
# (values.yaml `sidecar.image.tag`): it changes only with the chart version above.

# Ref: https://github.com/prometheus-community/helm-charts/blob/main/charts/prometheus-blackbox-exporter/Chart.yaml
# (11.17.2: blackbox_exporter v0.28.0)
# renovate: datasource=helm depName=prometheus-blackbox-exporter registryUrl=https://prometheus-community.github.io/helm-charts
BLACKBOX_EXPORTER = ChartRef(chart="prometheus-blackbox-exporter", version="11.17.2", repository="https://prometheus-community.github.io/helm-charts")

# Ref: https://github.com/prometheus-community/helm-charts/blob/main/charts/prometheus-postgres-exporter/Chart.yaml
# (8.2.0: postgres_exporter v0.20.1)
# renovate: datasource=helm depName=prometheus-postgres-exporter registryUrl=https://prometheus-community.github.io/helm-charts
POSTGRES_EXPORTER = ChartRef(chart="prometheus-postgres-exporter", version="8.2.0", repository="https://prometheus-community.github.io/helm-charts")

# Ref: https://github.com/prometheus-community/helm-charts/blob/main/charts/prometheus-elasticsearch-exporter/Chart.yaml
# (7.4.0: elasticsearch_exporter v1.11.0)
# renovate: datasource=helm depName=prometheus-elasticsearch-exporter registryUrl=https://prometheus-community.github.io/helm-charts
ELASTICSEARCH_EXPORTER = ChartRef(chart="prometheus-elasticsearch-exporter", version="7.4.0", repository="https://prometheus-community.github.io/helm-charts")

# Ref: https://github.com/prometheus-community/helm-charts/blob/main/charts/prometheus-pushgateway/Chart.yaml
# (3.8.0: pushgateway v1.11.3)
# renovate: datasource=helm depName=prometheus-pushgateway registryUrl=https://prometheus-community.github.io/helm-charts
PUSHGATEWAY = ChartRef(chart="prometheus-pushgateway", version="3.8.0", repository="https://prometheus-community.github.io/helm-charts")

# Ref: https://github.com/influxdata/helm-charts/blob/master/charts/influxdb/Chart.yaml (4.12.5)
# renovate: datasource=helm depName=influxdb registryUrl=https://helm.influxdata.com/
INFLUXDB = ChartRef(chart="influxdb", version="4.12.5", repository="https://helm.influxdata.com/")
# The chart defaults to 1.8.10-alpine; 1.11 is the maintained 1.x line (influxdata-docker
# influxdb/1.11/Dockerfile: 1.11.8). Never `latest`: that is InfluxDB 3, which has no InfluxQL CQs.
INFLUXDB_IMAGE = "influxdb"
# renovate: datasource=docker depName=influxdb versioning=docker
INFLUXDB_IMAGE_TAG = "1.11.8-alpine"

# Ref: https://github.com/elastic/cloud-on-k8s/blob/main/deploy/eck-operator/Chart.yaml (v3.5.0)
# renovate: datasource=helm depName=eck-operator registryUrl=https://helm.elastic.co
ECK_OPERATOR = ChartRef(chart="eck-operator", version="3.5.0", repository="https://helm.elastic.co")
# Ref: ECK v3.5.0 config/samples/elasticsearch/elasticsearch.yaml (spec.version). ECK runs it as
# this image (elastic/cloud-on-k8s pkg/controller/common/container/container.go: DefaultContainerRegistry,
# ElasticsearchImage).
ELASTICSEARCH_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch"
# renovate: datasource=docker depName=docker.elastic.co/elasticsearch/elasticsearch versioning=docker
ELASTICSEARCH_VERSION = "9.4.3"
# The lifecycle Job only needs curl; pinned like every other image.
# renovate: datasource=docker depName=curlimages/curl versioning=docker
CURL_IMAGE = "curlimages/curl:8.11.1"
# The vm.max_map_count DaemonSet (elasticsearch.maxMapCount: daemonset): the image ECK's
# documentation uses for it. Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory
# ("Using a DaemonSet to set virtual memory").
# renovate: datasource=docker depName=docker.io/library/bash versioning=docker
MAX_MAP_COUNT_IMAGE = "docker.io/library/bash:5.2.21"

# The weekly report job (plan/reports.py): the official Python image running the report code from
# a ConfigMap, standard library only. The minor version is the one the tests run the same code on
# (tests/test_reports_job.py holds them equal); slim: Debian with the CA certificates urllib's TLS
# needs, nothing else. Ref: https://github.com/docker-library/python (3.11/slim-bookworm/Dockerfile)
# renovate: datasource=docker depName=docker.io/library/python versioning=docker
PYTHON_IMAGE = "docker.io/library/python:3.11.14-slim-bookworm"

# Ref: https://github.com/fluent/helm-charts/blob/main/charts/fluent-bit/Chart.yaml (0.58.1: Fluent Bit 5.1.1)
# renovate: datasource=helm depName=fluent-bit registryUrl=https://fluent.github.io/helm-charts
FLUENT_BIT = ChartRef(chart="fluent-bit", version="0.58.1", repository="https://fluent.github.io/helm-charts")

# The daily dependency-links job behind Jaeger's System Architecture tab (plan/tracing.py
# dependencies_plan): one image per Elasticsearch major, the suffix naming it; `elasticsearch9` is
# built against the 9.x connector (tests/logs_traces/test_dependencies_job.py holds the suffix and
# ELASTICSEARCH_VERSION's major equal).
# Ref: jaegertracing/spark-dependencies@v0.7.2 (a1fe410) .github/workflows/ci-cd.yml (image
# ghcr.io/jaegertracing/spark-dependencies/spark-dependencies:<tag>-<variant>), README.md (variants and ES versions)
# renovate: datasource=docker depName=ghcr.io/jaegertracing/spark-dependencies/spark-dependencies versioning=docker
SPARK_DEPENDENCIES_IMAGE = "ghcr.io/jaegertracing/spark-dependencies/spark-dependencies:v0.7.2-elasticsearch9"

# Ref: https://github.com/jaegertracing/helm-charts/blob/main/charts/jaeger/Chart.yaml (4.11.1: Jaeger 2.19.0)
# renovate: datasource=helm depName=jaeger registryUrl=https://jaegertracing.github.io/helm-charts
JAEGER = ChartRef(chart="jaeger", version="4.11.1", repository="https://jaegertracing.github.io/helm-charts")

# Ref: https://github.com/open-telemetry/opentelemetry-helm-charts/blob/main/charts/opentelemetry-collector/Chart.yaml
# (0.170.0: collector 0.158.0). The contrib image: the k8s distribution has no prometheus exporter.
# renovate: datasource=helm depName=opentelemetry-collector registryUrl=https://open-telemetry.github.io/opentelemetry-helm-charts
OTEL_COLLECTOR = ChartRef(chart="opentelemetry-collector", version="0.170.0", repository="https://open-telemetry.github.io/opentelemetry-helm-charts")
OTEL_COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
# renovate: datasource=docker depName=otel/opentelemetry-collector-contrib versioning=docker
OTEL_COLLECTOR_IMAGE_TAG = "0.158.0"

# Ref: https://github.com/open-telemetry/opentelemetry-helm-charts/blob/main/charts/opentelemetry-operator/Chart.yaml
# (0.122.0: appVersion 0.158.0, the operator image tag by default). The auto-instrumentation images
# stay the operator's defaults at that release (opentelemetry-operator v0.158.0 versions.txt: Java
# agent 2.30.0, Node.js 0.78.0, Python 0.64b0, .NET 1.16.0): they change only with the chart version.
# renovate: datasource=helm depName=opentelemetry-operator registryUrl=https://open-telemetry.github.io/opentelemetry-helm-charts
OTEL_OPERATOR = ChartRef(chart="opentelemetry-operator", version="0.122.0", repository="https://open-telemetry.github.io/opentelemetry-helm-charts")

# Ref: https://github.com/aquasecurity/trivy-operator/blob/v0.32.0/deploy/helm/Chart.yaml
# (0.34.0: appVersion 0.32.0; scan jobs run Trivy 0.72.0, values.yaml trivy.image.tag)
# renovate: datasource=helm depName=trivy-operator registryUrl=https://aquasecurity.github.io/helm-charts/
TRIVY_OPERATOR = ChartRef(chart="trivy-operator", version="0.34.0", repository="https://aquasecurity.github.io/helm-charts/")

# Ref: https://github.com/opencost/opencost-helm-chart/blob/main/charts/opencost/Chart.yaml
# (2.5.17: appVersion 1.120.1; values.yaml pins the exporter image 1.120.1 by digest)
# renovate: datasource=helm depName=opencost registryUrl=https://opencost.github.io/opencost-helm-chart
OPENCOST = ChartRef(chart="opencost", version="2.5.17", repository="https://opencost.github.io/opencost-helm-chart")

ALL_CHARTS: tuple[ChartRef, ...] = (
    KUBE_PROMETHEUS_STACK,
    THANOS,
    GRAFANA,
    BLACKBOX_EXPORTER,
    POSTGRES_EXPORTER,
    ELASTICSEARCH_EXPORTER,
    PUSHGATEWAY,
    INFLUXDB,
    ECK_OPERATOR,
    FLUENT_BIT,
    JAEGER,
    OTEL_COLLECTOR,
    OTEL_OPERATOR,
    TRIVY_OPERATOR,
    OPENCOST,
)
