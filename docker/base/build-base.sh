#!/usr/bin/env bash
# Build the local base image from a debootstrap root filesystem.
#
# No container registry is reachable on the CI machines, so `FROM debian:...`
# cannot be pulled. This makes an equivalent image from Debian's own packages:
# Debian bookworm minbase plus Python 3 and OpenJDK 17, imported as $1.
# Usage: build-base.sh IMAGE[:TAG] [LABEL=VALUE ...]
#        build-base.sh --print-mirror   (the mirror it would use, then exit)
# The Debian mirror comes from BASE_MIRROR, else from this machine's apt sources.
set -euo pipefail

IMAGE="${1:?usage: build-base.sh IMAGE[:TAG] [LABEL=VALUE ...]}"
SUITE="${BASE_SUITE:-bookworm}"
INCLUDE="${BASE_INCLUDE:-python3,python3-venv,openjdk-17-jre-headless,ca-certificates}"

# The Debian mirror this machine's apt already uses for $SUITE: deb822 stanzas
# in sources.list.d/*.sources, or one-line entries in sources.list and
# sources.list.d/*.list. Only an entry for exactly $SUITE counts (not
# -security or -updates). Prints nothing when there is none.
APT_ETC="${APT_ETC:-/etc/apt}"
mirror() {
  local m
  m=$(awk -v suite="$SUITE" '
        function has(list, word,   n, i, w) { n = split(list, w, /[ \t]+/)
          for (i = 1; i <= n; i++) if (w[i] == word) return 1; return 0 }
        BEGIN { RS = ""; FS = "\n" }
        { types = uris = suites = ""; enabled = "yes"; key = ""
          for (i = 1; i <= NF; i++) {
            line = $i
            if (line ~ /^#/) continue
            if (match(line, /^[A-Za-z-]+:/)) {
              key = tolower(substr(line, 1, RLENGTH - 1)); val = substr(line, RLENGTH + 1)
            } else if (line ~ /^[ \t]/) { val = line } else continue
            if (key == "types") types = types " " val
            else if (key == "uris") uris = uris " " val
            else if (key == "suites") suites = suites " " val
            else if (key == "enabled") enabled = val
          }
          gsub(/[ \t]/, "", enabled)
          if (has(types, "deb") && has(suites, suite) && tolower(enabled) != "no") {
            n = split(uris, u, /[ \t]+/)
            for (j = 1; j <= n; j++) if (u[j] ~ /^https?:\/\//) { print u[j]; exit }
          }
        }' "$APT_ETC"/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$m" ]; then
    m=$(cat "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list 2>/dev/null \
          | sed -E 's/\[[^]]*\]//' \
          | awk -v suite="$SUITE" '$1 == "deb" && $2 ~ /^https?:\/\// && $3 == suite {print $2; exit}' \
          || true)
  fi
  echo "$m"
}

MIRROR="${BASE_MIRROR:-$(mirror)}"
if [ -z "$MIRROR" ]; then
  echo "build-base.sh: no Debian mirror for $SUITE in $APT_ETC/sources.list or" \
       "$APT_ETC/sources.list.d/*.sources: set BASE_MIRROR to the Debian archive URL" >&2
  exit 1
fi
if [ "$IMAGE" = "--print-mirror" ]; then echo "$MIRROR"; exit 0; fi
shift

command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || {
  echo "debootstrap not installed: run scripts/install-system-deps.sh" >&2; exit 1; }

ROOT=$(mktemp -d /var/tmp/kafkaval-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
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
# A root fs without the ca-certificates package (the bare image of
# scripts/check-fresh.sh) gets the CA files where that package will find them
# once apt installs it, and this machine's bundle for pip until then.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  if [ -x "$ROOT/usr/sbin/update-ca-certificates" ]; then
    chroot "$ROOT" update-ca-certificates >/dev/null 2>&1
  elif [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$ROOT/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
  fi
fi
# The image must find the same mirror with apt-get inside a build.
echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"

changes=(--change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]')
for label in "$@"; do changes+=(--change "LABEL $label"); done
tar -C "$ROOT" --numeric-owner -c . | docker import "${changes[@]}" - "$IMAGE" >/dev/null
echo "base image: $IMAGE imported"
