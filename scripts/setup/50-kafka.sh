#!/usr/bin/env bash
# Installs what test/pipelines/kafka and bench/kafka need: Java 17+, Maven, unzip and curl (Debian packages,
# when missing), then the Kafka broker jars and Apicurio Registry (cached in .cache/kafka).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v unzip >/dev/null || missing+=(unzip)
command -v curl >/dev/null || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/services/kafka.sh fetch
