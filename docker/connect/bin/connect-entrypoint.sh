#!/usr/bin/env bash
# `start` (the default): a Kafka Connect distributed worker configured from the
# environment variables of quay.io/debezium/connect:
#   BOOTSTRAP_SERVERS, GROUP_ID, CONFIG_STORAGE_TOPIC, OFFSET_STORAGE_TOPIC,
#   STATUS_STORAGE_TOPIC   required
#   KEY_CONVERTER, VALUE_CONVERTER   (JsonConverter)
#   OFFSET_FLUSH_INTERVAL_MS (60000), OFFSET_FLUSH_TIMEOUT_MS (5000),
#   SHUTDOWN_TIMEOUT (10000 ms), HEAP_OPTS (-Xms256M -Xmx2G), REST_PORT (8083),
#   ADVERTISED_HOST_NAME (the container's address), ADVERTISED_PORT (REST_PORT)
#   CONNECT_<NAME>=v   worker property <name>=v (lower case, "_" -> "."), e.g.
#                      CONNECT_KEY_CONVERTER_SCHEMAS_ENABLE=false; wins over the above
# The properties file is written anew at every start, so a container started
# again after `docker kill` runs with the same configuration. Any other command
# runs as given.
set -euo pipefail
if [ "${1:-start}" != start ]; then exec "$@"; fi

missing=()
for var in BOOTSTRAP_SERVERS GROUP_ID CONFIG_STORAGE_TOPIC OFFSET_STORAGE_TOPIC STATUS_STORAGE_TOPIC; do
  [ -n "${!var:-}" ] || missing+=("$var")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: set ${missing[*]} (the Kafka cluster, the Connect group and its three topics)" >&2
  exit 1
fi
: "${REST_PORT:=8083}" "${HOST_NAME:=$(hostname -i 2>/dev/null | awk '{print $1}')}"
: "${ADVERTISED_HOST_NAME:=${HOST_NAME:-$(hostname)}}" "${ADVERTISED_PORT:=$REST_PORT}"

declare -A props=(
  [bootstrap.servers]=$BOOTSTRAP_SERVERS
  [group.id]=$GROUP_ID
  [config.storage.topic]=$CONFIG_STORAGE_TOPIC
  [offset.storage.topic]=$OFFSET_STORAGE_TOPIC
  [status.storage.topic]=$STATUS_STORAGE_TOPIC
  # As Kafka's sample connect-distributed.properties (the Debezium image's base):
  # one replica, which a single broker can hold; CONNECT_*_REPLICATION_FACTOR for more.
  [config.storage.replication.factor]=1
  [offset.storage.replication.factor]=1
  [status.storage.replication.factor]=1
  [key.converter]=${KEY_CONVERTER:-org.apache.kafka.connect.json.JsonConverter}
  [value.converter]=${VALUE_CONVERTER:-org.apache.kafka.connect.json.JsonConverter}
  [offset.flush.interval.ms]=${OFFSET_FLUSH_INTERVAL_MS:-60000}
  [offset.flush.timeout.ms]=${OFFSET_FLUSH_TIMEOUT_MS:-5000}
  [task.shutdown.graceful.timeout.ms]=${SHUTDOWN_TIMEOUT:-10000}
  [listeners]=http://0.0.0.0:$REST_PORT
  [rest.advertised.host.name]=$ADVERTISED_HOST_NAME
  [rest.advertised.port]=$ADVERTISED_PORT
  [plugin.path]=$KAFKA_CONNECT_PLUGINS_DIR
  # Debezium and Kafka's own plugins ship ServiceLoader manifests: no slow
  # classpath scan at every start (CONNECT_PLUGIN_DISCOVERY=hybrid_warn for others).
  [plugin.discovery]=service_load
)
while IFS='=' read -r name value; do
  key=$(printf '%s' "${name#CONNECT_}" | tr '[:upper:]_' '[:lower:].')
  props[$key]=$value
done < <(env | grep -E '^CONNECT_[A-Z0-9_]+=' || true)

CONF=$KAFKA_HOME/config/connect-distributed.properties
for key in "${!props[@]}"; do printf '%s=%s\n' "$key" "${props[$key]}"; done | LC_ALL=C sort > "$CONF"
echo "Kafka Connect worker: group ${props[group.id]} on ${props[bootstrap.servers]}, REST ${props[listeners]}"

# exec: the JVM is PID 1 and gets `docker stop`'s SIGTERM for a clean shutdown.
# shellcheck disable=SC2086
exec java ${HEAP_OPTS:--Xms256M -Xmx2G} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_HOME/config/log4j2.properties" \
  ${KAFKA_OPTS:-} -cp "$KAFKA_HOME/libs/*" org.apache.kafka.connect.cli.ConnectDistributed "$CONF"
