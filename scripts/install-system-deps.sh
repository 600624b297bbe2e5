#!/usr/bin/env bash
# System packages a Make target needs, by group. On Debian as root the missing
# ones are installed with apt-get; anywhere else this prints what to install
# and fails. Each target asks only for its own groups, so a non-root user with
# Java, Maven and Prometheus can run the performance suite without Docker or
# PostgreSQL.
#
# Usage: install-system-deps.sh [GROUP ...]   (default: all)
#   base      Python 3 with venv (before the virtualenv is made)
#   perf      the local stack: Java 17, Maven (Kafka jars), Prometheus + promtool,
#             openssl (the SASL_SSL stack's throwaway CA)
#   delivery  perf + iptables (network-partition fault)
#   cdc       perf + PostgreSQL (the Debezium pipeline)
#   docker    Docker engine, docker-compose, debootstrap (base image), iptables
#   all       every group (what `make test` and CI need)
set -euo pipefail

usage() {
  echo "usage: install-system-deps.sh [base|perf|delivery|cdc|docker|all ...]" >&2
  exit 2
}

# One check a line, "test:package"; a test is a command name, or a shell
# condition after "sh " for what is not a command.
group_checks() {
  case "$1" in
    # Debian's venv module cannot make a virtualenv without ensurepip (python3-venv).
    base) printf '%s\n' "python3:python3" \
            "sh python3 -c 'import ensurepip, venv' 2>/dev/null:python3-venv" ;;
    perf) printf '%s\n' "java:openjdk-17-jre-headless" "mvn:maven" "prometheus:prometheus" \
            "promtool:prometheus" \
            "openssl:openssl" ;;
    delivery) group_checks perf; printf '%s\n' "iptables:iptables" ;;
    # pg_ctlcluster comes with the client tools too; the server is a versioned binary.
    cdc) group_checks perf
         printf '%s\n' "pg_ctlcluster:postgresql" \
           "sh ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1:postgresql" ;;
    docker) printf '%s\n' "dockerd:docker.io" "docker-compose:docker-compose" \
              "debootstrap:debootstrap" "iptables:iptables" ;;
    all) for g in base perf delivery cdc docker; do group_checks "$g"; done ;;
    *) echo "install-system-deps.sh: unknown group '$1'" >&2; usage ;;
  esac
}

present() {
  local test="$1"
  if [[ "$test" == "sh "* ]]; then
    bash -c "${test#sh }"
  else
    command -v "$test" >/dev/null 2>&1 || [ -x "/usr/sbin/$test" ] || [ -x "/usr/bin/$test" ]
  fi
}

[ "$#" -gt 0 ] || set -- all
missing=()
for group in "$@"; do
  checks=$(group_checks "$group") || exit $?
  while IFS= read -r entry; do
    [ -n "$entry" ] || continue
    test="${entry%:*}"; pkg="${entry##*:}"
    present "$test" || missing+=("$pkg")
  done <<< "$checks"
done
# Deduplicate (prometheus gives two commands).
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages ($*): all present"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system packages ($*): installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "system packages ($*): installed"
else
  echo "missing system packages for $*: ${missing[*]}" >&2
  echo "install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
