#!/usr/bin/env bash
# Build the images the Docker tests and docker-compose use, each only when its
# inputs changed: an image carries the sha256 of its build context, Dockerfile
# and base image as the label org.kafkaval.content-hash; equal hash = skip.
#
#   kafkaval/base:bookworm       debootstrap root fs (Python 3, OpenJDK 17)
#   kafkaval/kafka:<version>     docker/kafka + the Maven jars of the local stack
#                                + the JMX exporter agent (prometheus/jmx/kafka-broker.yml)
#   kafkaval/prometheus:local    docker/prometheus (Debian's prometheus)
#   kafkaval/kafkaval:local      docker/kafkaval + this project
#   kafkaval/postgres:local      docker/postgres (Debian's PostgreSQL 15, like the postgres image)
#   kafkaval/connect:local       docker/connect + the same Kafka jars + the Debezium
#                                PostgreSQL plugin of the local stack (like quay.io/debezium/connect)
#                                + the JMX exporter agent (prometheus/jmx/kafka-connect.yml)
#   kafkaval/bare:bookworm       debootstrap minbase + make (scripts/check-fresh.sh; not built by default)
#
# BASE_IMAGE=debian:bookworm-slim builds the same Dockerfiles on a stock base
# (what a user with registry access does) instead of the debootstrap one.
# Usage: docker/build-images.sh [base|kafka|prometheus|kafkaval|postgres|connect|bare ...]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
KAFKA_VERSION="${KAFKA_VERSION:-4.3.0}"
LABEL=org.kafkaval.content-hash
STAGE="$REPO/.cache/docker-context"
LOCAL_BASE=kafkaval/base:bookworm
BASE_IMAGE="${BASE_IMAGE:-$LOCAL_BASE}"
export DOCKER_BUILDKIT=0  # the classic builder ships with docker.io; buildx may not

image_hash() { docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

# sha256 over relative paths and contents of a directory, plus extra strings.
tree_hash() {
  local dir=$1; shift
  { (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); printf '%s\n' "$@"; } \
    | sha256sum | cut -c1-32
}

build() {  # build NAME CONTEXT DOCKERFILE
  local name=$1 ctx=$2 dockerfile=$3 base_id hash
  base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || echo "$BASE_IMAGE")
  hash=$(tree_hash "$ctx" "$(sha256sum "$dockerfile")" "$base_id")
  if [ "$(image_hash "$name")" = "$hash" ]; then
    echo "image $name: up to date ($hash)"
    return
  fi
  echo "image $name: building"
  local t0=$SECONDS
  docker build -q -f "$dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "$LABEL=$hash" -t "$name" "$ctx" >/dev/null
  echo "image $name: built in $((SECONDS - t0)) s"
}

rootfs_image() {  # rootfs_image NAME INCLUDE: a debootstrap image (INCLUDE empty: build-base.sh's default)
  local name=$1 include=$2 hash
  hash=$(printf '%s\n' "$(sha256sum docker/base/build-base.sh)" "$include" | sha256sum | cut -c1-32)
  if [ "$(image_hash "$name")" = "$hash" ]; then
    echo "image $name: up to date ($hash)"
    return
  fi
  local t0=$SECONDS
  BASE_INCLUDE=$include bash docker/base/build-base.sh "$name" "$LABEL=$hash"
  echo "image $name: built in $((SECONDS - t0)) s"
}

build_base() {
  [ "$BASE_IMAGE" = "$LOCAL_BASE" ] || return 0
  rootfs_image "$LOCAL_BASE" "${BASE_INCLUDE:-}"
}

# The bare Debian machine of scripts/check-fresh.sh: minbase and make, nothing else.
build_bare() {
  rootfs_image kafkaval/bare:bookworm make
}

# Python with the project's default settings as `s` (not the caller's environment).
py() { "${PYTHON:-$REPO/.venv/bin/python}" -c "from kafkaval.config import load_settings; s = load_settings(environ={}); $1"; }

# Copy a tree as hard links where the file system allows (the jars are large).
link_tree() { cp -rl "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -r "$1" "$2"; }; }

stage_kafka_jars() {  # stage_kafka_jars CONTEXT: the local stack's Kafka classpath as CONTEXT/libs
  local jars="$REPO/.cache/kafka-$KAFKA_VERSION"
  if ! ls "$jars"/kafka_2.13-*.jar >/dev/null 2>&1; then
    echo "fetching the Kafka $KAFKA_VERSION jars with Maven"
    py "from stack.jars import ensure_kafka_jars; ensure_kafka_jars(s)"
  fi
  link_tree "$jars" "$1/libs"
}

stage_jmx_agent() {  # stage_jmx_agent CONTEXT RULES: the JMX exporter agent and its rules as CONTEXT/jmx
  local jar
  jar=$(py "from stack.jmx import ensure_agent_jar; print(ensure_agent_jar(s))" | tail -n 1)
  mkdir -p "$1/jmx"
  cp "$jar" "$1/jmx/jmx_prometheus_javaagent.jar"
  cp "prometheus/jmx/$2" "$1/jmx/"
}

build_kafka() {
  local ctx="$STAGE/kafka"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r docker/kafka/bin docker/kafka/config "$ctx/"
  stage_kafka_jars "$ctx"
  stage_jmx_agent "$ctx" kafka-broker.yml
  build "kafkaval/kafka:$KAFKA_VERSION" "$ctx" docker/kafka/Dockerfile
}

build_connect() {
  # The Debezium plugin folder the local stack's worker loads (fetched once).
  local plugin ctx="$STAGE/connect"
  plugin=$(py "from cdc.debezium_jars import PLUGIN_NAME, ensure_debezium_plugin
print(ensure_debezium_plugin(s) / PLUGIN_NAME)" | tail -n 1)
  rm -rf "$ctx" && mkdir -p "$ctx/connect"
  cp -r docker/connect/bin docker/kafka/config "$ctx/"
  stage_kafka_jars "$ctx"
  stage_jmx_agent "$ctx" kafka-connect.yml
  link_tree "$plugin" "$ctx/connect/$(basename "$plugin")"
  build kafkaval/connect:local "$ctx" docker/connect/Dockerfile
}

build_postgres() {
  build kafkaval/postgres:local docker/postgres docker/postgres/Dockerfile
}

build_prometheus() {
  local ctx="$STAGE/prometheus"
  rm -rf "$ctx" && mkdir -p "$ctx"
  build kafkaval/prometheus:local "$ctx" docker/prometheus/Dockerfile
}

build_kafkaval() {
  # Only what the package needs, so unrelated edits (tests, docs) keep the cache.
  local ctx="$STAGE/kafkaval" d
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp pyproject.toml "$ctx/"
  if [ -f README.md ]; then cp README.md "$ctx/"; else : > "$ctx/README.md"; fi
  for d in */; do
    d=${d%/}
    if [ -f "$d/__init__.py" ] && [ "$d" != tests ]; then
      tar -C "$REPO" --exclude=__pycache__ --exclude='*.pyc' -cf - "$d" | tar -C "$ctx" -xf -
    fi
  done
  build kafkaval/kafkaval:local "$ctx" docker/kafkaval/Dockerfile
}

docker version >/dev/null 2>&1 || { echo "Docker engine not reachable: run scripts/start-dockerd.sh" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(base kafka prometheus kafkaval postgres connect)
for t in "${targets[@]}"; do
  case "$t" in
    base|kafka|prometheus|kafkaval|postgres|connect|bare) "build_$t" ;;
    *) echo "unknown image '$t': choose base, kafka, prometheus, kafkaval, postgres, connect, bare" >&2
       exit 2 ;;
  esac
done
