#!/usr/bin/env bash
# Write server.properties from KAFKA_* variables, format storage once, run the broker.
set -euo pipefail
CONF=/opt/kafka/config/server.properties
: "${CLUSTER_ID:=5L6g3nShT-eMCtK--X86sw}"
# Single-node combined broker+controller unless the environment says otherwise.
: "${KAFKA_NODE_ID:=1}"
: "${KAFKA_PROCESS_ROLES:=broker,controller}"
: "${KAFKA_LISTENERS:=PLAINTEXT://:9092,CONTROLLER://:9093}"
: "${KAFKA_ADVERTISED_LISTENERS:=PLAINTEXT://localhost:9092}"
: "${KAFKA_CONTROLLER_LISTENER_NAMES:=CONTROLLER}"
: "${KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT}"
: "${KAFKA_CONTROLLER_QUORUM_VOTERS:=${KAFKA_NODE_ID}@localhost:9093}"
: "${KAFKA_LOG_DIRS:=/var/lib/kafka/data}"
export KAFKA_NODE_ID KAFKA_PROCESS_ROLES KAFKA_LISTENERS KAFKA_ADVERTISED_LISTENERS \
  KAFKA_CONTROLLER_LISTENER_NAMES KAFKA_LISTENER_SECURITY_PROTOCOL_MAP \
  KAFKA_CONTROLLER_QUORUM_VOTERS KAFKA_LOG_DIRS

# Variables of the launcher, not server properties.
SKIP=" KAFKA_HOME KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_LOG4J_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS KAFKA_VERSION "
: > "$CONF"
while IFS='=' read -r name value; do
  case "$SKIP" in *" $name "*) continue ;; esac
  key=$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' \
        | sed -e 's/___/\x01/g' -e 's/__/-/g' -e 's/_/./g' -e 's/\x01/_/g')
  echo "$key=$value" >> "$CONF"
done < <(env | grep -E '^KAFKA_[A-Z0-9_]+=' | sort)

CP="/opt/kafka/libs/*"
LOG4J="-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties"
DATA_DIR="${KAFKA_LOG_DIRS%%,*}"
if [ ! -f "$DATA_DIR/meta.properties" ]; then
  java -Xmx256m "$LOG4J" -cp "$CP" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$CONF"
fi
# exec: the JVM is PID 1 and gets `docker stop`'s SIGTERM for a clean shutdown.
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -Djava.awt.headless=true "$LOG4J" ${KAFKA_OPTS:-} -cp "$CP" kafka.Kafka "$CONF"
