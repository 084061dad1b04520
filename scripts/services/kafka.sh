#!/usr/bin/env bash
# serves: test/pipelines/kafka bench/kafka
#
# A real Apache Kafka 4.x broker (KRaft, combined broker+controller, one node) and a
# Confluent-compatible schema registry (Apicurio Registry 3.x, /apis/ccompat/v7), run from
# Maven Central jars without Docker. Both bind to 127.0.0.1 only, with small heaps.
#
#   scripts/services/kafka.sh start            fetch (once, cached in .cache/kafka), start, wait until ready
#   scripts/services/kafka.sh stop             stop both, remove their state
#   scripts/services/kafka.sh restart-broker   stop and start the broker only, keeping its log (fault tests)
#   scripts/services/kafka.sh fetch            download only
#
# Ports: FLEUVE_KAFKA_PORT (default 19092; controller +1) and FLEUVE_REGISTRY_PORT (default 18081).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache/kafka"
state="$root/.services/kafka"
KAFKA_PORT="${FLEUVE_KAFKA_PORT:-19092}"
for port in "FLEUVE_KAFKA_PORT=$KAFKA_PORT" "FLEUVE_REGISTRY_PORT=${FLEUVE_REGISTRY_PORT:-18081}"; do
  # a port number (the broker's controller takes the next one), not whatever bash arithmetic makes of a word
  [[ "${port#*=}" =~ ^[0-9]+$ ]] && [ "${port#*=}" -ge 1 ] && [ "${port#*=}" -le 65534 ] ||
    { echo "kafka.sh: ${port%%=*} is '${port#*=}', not a port number (1-65534)" >&2; exit 2; }
done
CONTROLLER_PORT="$((KAFKA_PORT + 1))"
REGISTRY_PORT="${FLEUVE_REGISTRY_PORT:-18081}"
APICURIO_VERSION=3.0.9

fetch() {
  mkdir -p "$cache"
  if [ ! -f "$cache/libs/.complete" ]; then
    echo "kafka.sh: fetching the Kafka broker jars from Maven Central" >&2
    mvn -q -f "$root/scripts/services/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$cache/libs" -Dmdep.includeScope=runtime >&2
    touch "$cache/libs/.complete"
  fi
  if [ ! -f "$cache/registry/.complete" ]; then
    echo "kafka.sh: fetching Apicurio Registry $APICURIO_VERSION from Maven Central" >&2
    # dependency:copy, not copy-dependencies: the artifact's parent pom is not published.
    mvn -q dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:zip:all" \
      -Dtransitive=false -DoutputDirectory="$cache/registry-dist" >&2
    rm -rf "$cache/registry" && mkdir -p "$cache/registry"
    (cd "$cache/registry" && unzip -q "$cache/registry-dist/apicurio-registry-app-$APICURIO_VERSION-all.zip")
    touch "$cache/registry/.complete"
  fi
}

# Whether something answers on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds what
  for _ in $(seq 1 "$(($2 * 4))"); do
    if listening "$1"; then return 0; fi
    sleep 0.25
  done
  echo "kafka.sh: $3 did not open 127.0.0.1:$1 within $2s" >&2
  return 1
}

# Refuses to start where a port is already taken: wait_port would take the other process's answer
# for our service's (a broker of another checkout on the same ports once made a fault test stop
# "the broker" and see no change), and our JVM would die on its bind unseen.
require_free() { # port what
  listening "$1" || return 0
  local owner=""
  command -v ss >/dev/null 2>&1 && owner="$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 || true)"
  echo "kafka.sh: 127.0.0.1:$1 (for $2) is already taken${owner:+ ($owner)}: another broker or registry, maybe of another checkout? Stop it, or run this one on other ports (FLEUVE_KAFKA_PORT, FLEUVE_REGISTRY_PORT)" >&2
  return 1
}
broker_ports_free() { require_free "$KAFKA_PORT" "the Kafka broker" && require_free "$CONTROLLER_PORT" "the broker's controller"; }

broker_config() {
  mkdir -p "$state"
  cat >"$state/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
# Tests and benchmarks: faster dead-worker detection and small segments.
group.consumer.min.session.timeout.ms=2000
group.min.session.timeout.ms=2000
log.segment.bytes=67108864
EOF
  cat >"$state/log4j2.yaml" <<EOF
Configuration:
  Appenders:
    File: { name: F, fileName: "$state/broker.log", PatternLayout: { pattern: "[%d] %p %m (%c)%n" } }
  Loggers:
    Root: { level: WARN, AppenderRef: [{ ref: F }] }
    Logger: [{ name: kafka.server.KafkaServer, level: INFO }, { name: kafka.server.BrokerServer, level: INFO }]
EOF
}

java_cp() { echo "$cache/libs/*"; }

start_broker() {
  broker_config
  broker_ports_free || return 1
  if [ ! -f "$state/data/meta.properties" ]; then
    java -Xmx256m -cp "$(java_cp)" -Dlog4j2.configurationFile="$state/log4j2.yaml" kafka.tools.StorageTool format --standalone \
      -t "$(java -cp "$(java_cp)" -Dlog4j2.configurationFile="$state/log4j2.yaml" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      -c "$state/server.properties" >"$state/format.log" 2>&1
  fi
  setsid nohup java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$state/log4j2.yaml" -cp "$(java_cp)" kafka.Kafka "$state/server.properties" \
    >"$state/broker.out" 2>&1 &
  echo $! >"$state/broker.pid"
  wait_port "$KAFKA_PORT" 90 "the Kafka broker" || { tail -30 "$state/broker.out" "$state/broker.log" >&2; return 1; }
  kill -0 "$(cat "$state/broker.pid")" 2>/dev/null || { echo "kafka.sh: the Kafka broker exited" >&2; tail -30 "$state/broker.out" >&2; return 1; }
  # The port opens before the broker has joined the quorum: wait until metadata answers.
  for _ in $(seq 1 120); do
    if java -Xmx128m -cp "$(java_cp)" -Dlog4j2.configurationFile="$state/log4j2.yaml" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "kafka.sh: the broker never answered metadata requests" >&2
  return 1
}

start_registry() {
  mkdir -p "$state"
  # cd first, then one simple command in the background: `cd && java &` would background a
  # subshell, and $! (the pid stop kills) would be that subshell's, not the JVM's.
  (cd "$state" || exit 1
    setsid nohup java -Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.enabled=false -Dquarkus.log.level=WARN \
    -Dapicurio.ccompat.legacy-id-mode.enabled=true \
    -jar "$cache/registry/apicurio-registry-app-$APICURIO_VERSION-runner.jar" >"$state/registry.log" 2>&1 </dev/null &
    echo $! >"$state/registry.pid")
  wait_port "$REGISTRY_PORT" 120 "the schema registry" || { tail -30 "$state/registry.log" >&2; return 1; }
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "kafka.sh: the registry never answered /apis/ccompat/v7/subjects" >&2
  tail -30 "$state/registry.log" >&2
  return 1
}

stop_pid() { # file
  [ -f "$1" ] || return 0
  local pid
  pid="$(cat "$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# Stops both services and removes their state (start begins with it too).
stop_all() {
  stop_pid "$state/broker.pid"
  stop_pid "$state/registry.pid"
  rm -rf "$state"
}

case "${1:-}" in
  fetch) fetch ;;
  start)
    fetch
    stop_all
    mkdir -p "$state"
    # ours stopped: whatever still answers on these ports is someone else's
    # (before either starts: the registry starts beside the broker, which checks its own again)
    broker_ports_free && require_free "$REGISTRY_PORT" "the schema registry" || exit 1
    # Both JVMs start in parallel: the registry takes the longer.
    start_registry &
    reg=$!
    start_broker
    wait "$reg"
    echo "kafka.sh: broker 127.0.0.1:$KAFKA_PORT, registry http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7" >&2
    ;;
  restart-broker)
    stop_pid "$state/broker.pid"
    start_broker
    ;;
  stop-broker) stop_pid "$state/broker.pid" ;;
  start-broker) start_broker ;;
  stop) stop_all ;;
  *)
    echo "usage: $0 start|stop|restart-broker|fetch" >&2
    exit 2
    ;;
esac
