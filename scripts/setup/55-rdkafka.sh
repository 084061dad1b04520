#!/usr/bin/env bash
# Builds the librdkafka-based Kafka client (`--kafka-client rdkafka`, pipelines/kafka/rdkafka-transport.ts):
# npm's @confluentinc/kafka-javascript with the librdkafka sources it ships, compiled here.
#
# Why not a plain `npm install`: its install step first downloads a prebuilt binary from GitHub
# releases, then falls back to building librdkafka with `--install-deps --source-deps-only`, which
# downloads zlib, OpenSSL, zstd and curl sources from their own sites. Neither is reachable from
# these machines. Linking librdkafka dynamically (CKJS_LINKING=dynamic) makes its configure use the
# system's zlib and OpenSSL instead (zstd, lz4-ext, SASL/GSSAPI and curl/OIDC are left out when
# their -dev packages are missing: none is needed for PLAINTEXT/SSL/SASL PLAIN/SCRAM), and node-gyp
# gets the Node headers from the Node installation (--nodedir) instead of downloading them.
#
# Lands in $FLEUVE_RDKAFKA_DIR, by default ~/.cache/fleuve/rdkafka-<version>: outside the checkout,
# so a fresh clone on the same machine (CI's) reuses the build. Idempotent (a stamp per version).
# About a minute on an idle 2-core machine (the build log's last line says how long it took).
set -euo pipefail
# Optional: a failure here must not stop the test suite (scripts/test.mjs stops on a failing setup
# script). kafkajs stays available and the rdkafka tests say they were skipped.
trap 'echo "rdkafka: setup failed (line $LINENO); the rdkafka client is not available, kafkajs is" >&2; exit 0' ERR
cd "$(dirname "$0")/../.."
VERSION=1.10.1
DIR=${FLEUVE_RDKAFKA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fleuve/rdkafka-$VERSION}
PKG=$DIR/node_modules/@confluentinc/kafka-javascript
[ -f "$DIR/.built-$VERSION" ] && [ -f "$PKG/build/Release/confluent-kafka-javascript.node" ] && exit 0

source scripts/setup/lib/apt.sh
command -v g++ >/dev/null && command -v make >/dev/null || apt_install rdkafka g++ make
command -v python3 >/dev/null || apt_install rdkafka python3
[ -f /usr/include/openssl/ssl.h ] || apt_install rdkafka libssl-dev
[ -f /usr/include/zlib.h ] || apt_install rdkafka zlib1g-dev
command -v pkg-config >/dev/null || apt_install rdkafka pkg-config

# Node's own headers, from the installation that runs the tests (Debian/NodeSource: /usr/include/node).
NODEDIR=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ ! -f "$NODEDIR/include/node/node.h" ]; then
  echo "rdkafka: no Node headers under $NODEDIR/include/node; the rdkafka client is not built (kafkajs stays available)" >&2
  exit 0
fi
GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
[ -f "$GYP" ] || GYP=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js

start=$(date +%s)
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"fleuve-rdkafka","private":true}' >"$DIR/package.json"
# --ignore-scripts: its own install step is the download described above; the build is ours.
(cd "$DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "@confluentinc/kafka-javascript@$VERSION" >/dev/null)
# -j 1 for node-gyp itself: with more jobs its make runs the C++ compile before librdkafka's
# configure has written config.h ("No rule to make target ../deps/librdkafka/config.h").
if ! (cd "$PKG" && CKJS_LINKING=dynamic nice -n 10 node "$GYP" rebuild --nodedir="$NODEDIR" -j 1 >"$DIR/build.log" 2>&1); then
  tail -30 "$DIR/build.log" >&2
  echo "rdkafka: the build failed (log: $DIR/build.log); the rdkafka client is not available, kafkajs is" >&2
  exit 0
fi
# What a Kafka run loads: the module, and librdkafka beside it (found through its rpath).
node -e "const k=require('$PKG'); if(!k.librdkafkaVersion) process.exit(1)" \
  || { echo "rdkafka: the built module does not load" >&2; exit 0; }
echo "@confluentinc/kafka-javascript $VERSION (librdkafka $(node -p "require('$PKG').librdkafkaVersion")) built in $(( $(date +%s) - start )) s" | tee -a "$DIR/build.log" >&2
touch "$DIR/.built-$VERSION"
