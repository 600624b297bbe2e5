#!/usr/bin/env bash
# System packages the stack and the tests need. On Debian as root they are
# installed with apt-get; anywhere else this prints what to install and fails.
set -euo pipefail

# command-to-check : Debian package
NEEDED=(
  "java:openjdk-17-jre-headless"
  "mvn:maven"
  "prometheus:prometheus"
  "promtool:prometheus"
  "iptables:iptables"
  "pg_ctlcluster:postgresql"
  "dockerd:docker.io"
  "docker-compose:docker-compose"
  "debootstrap:debootstrap"
  "openssl:openssl"
)

missing=()
for entry in "${NEEDED[@]}"; do
  cmd="${entry%%:*}"; pkg="${entry##*:}"
  if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ] && ! [ -x "/usr/bin/$cmd" ]; then
    missing+=("$pkg")
  fi
done
# pg_ctlcluster comes with the client tools too; the server is a versioned binary.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  missing+=("postgresql")
fi
# Deduplicate (prometheus gives two commands).
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "system packages: installed"
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
