#!/usr/bin/env bash
# Build the local base image from a debootstrap root filesystem.
#
# No container registry is reachable on the CI machines, so `FROM debian:...`
# cannot be pulled. This makes an equivalent image from Debian's own packages:
# Debian bookworm minbase plus Python 3 and OpenJDK 17, imported as $1.
# Usage: build-base.sh IMAGE[:TAG] [LABEL=VALUE ...]
set -euo pipefail

IMAGE="${1:?usage: build-base.sh IMAGE[:TAG] [LABEL=VALUE ...]}"; shift
SUITE="${BASE_SUITE:-bookworm}"
INCLUDE="${BASE_INCLUDE:-python3,python3-venv,openjdk-17-jre-headless,ca-certificates}"

# The Debian mirror this machine already uses (deb822 .sources or one-line lists).
mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)
  if [ -z "$m" ]; then
    m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | grep -v security | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' \
          | head -n1 || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || {
  echo "debootstrap not installed: run scripts/install-system-deps.sh" >&2; exit 1; }

ROOT=$(mktemp -d /var/tmp/kafkaval-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
MIRROR="${BASE_MIRROR:-$(mirror)}"
echo "base image: debootstrap $SUITE from $MIRROR (include $INCLUDE)"
PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase --include="$INCLUDE" \
  "$SUITE" "$ROOT" "$MIRROR" > "$ROOT.log" 2>&1 || {
    echo "debootstrap failed; last lines of $ROOT.log:" >&2; tail -n 20 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT.log"
# Slim the image: apt lists and caches are refetched by any build that needs apt.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* \
       "$ROOT"/usr/share/man/*
# Trust what this machine trusts: an egress proxy's CA added under
# /usr/local/share/ca-certificates must also let pip and apt inside builds through.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  chroot "$ROOT" update-ca-certificates >/dev/null 2>&1
fi
# The image must find the same mirror with apt-get inside a build.
echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"

changes=(--change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]')
for label in "$@"; do changes+=(--change "LABEL $label"); done
tar -C "$ROOT" --numeric-owner -c . | docker import "${changes[@]}" - "$IMAGE" >/dev/null
echo "base image: $IMAGE imported"
