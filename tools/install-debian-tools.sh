#!/usr/bin/env bash
# Install the real tools the tests run (Debian 12 packages) when any is missing.
#   promtool, prometheus (2.42) · amtool, prometheus-alertmanager (0.25) · influxd, influx (1.6)
#   · keytool, java with its compiler (a JDK: the Jaeger dependencies job's truststore and a JVM
#   that connects through it, tests/logs_traces/TruststoreProbe.java) · openssl
# As root it installs them with apt-get; otherwise it prints how, and the tests that need them
# skip locally and fail under CI=true.
# First, unprivileged, the charts' generation beside them (Prometheus 3.5.3, Alertmanager 0.33.1):
# tools/install-engines.sh extracts it from DEBS_DIR (default ../shared/debs) into .tools/engines/3.
set -euo pipefail
"$(dirname "$0")/install-engines.sh"
missing=()
for tool in promtool prometheus amtool prometheus-alertmanager influxd influx keytool javac openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
packages="prometheus prometheus-alertmanager influxdb influxdb-client openjdk-17-jdk-headless openssl"
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${missing[*]}; install with: sudo apt-get install -y $packages" >&2
  exit 0
fi
echo "installing $packages (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The packages' postinst scripts try to start services; policy-rc.d stops that on machines
# where an init system is present, and the tests start their own servers on 127.0.0.1.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $packages >/dev/null
