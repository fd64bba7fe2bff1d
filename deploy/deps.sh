#!/bin/sh
# deps.sh - install the Debian packages certcast builds, tests and demos with.
#
# Idempotent and quiet when everything is present: `make`, `make test` and
# `make demo` call it first so a fresh Debian 12 host needs no other set-up.
set -eu

PACKAGES="build-essential pkg-config libzmq3-dev libczmq-dev libprotobuf-c-dev
protobuf-c-compiler libssl-dev liblmdb-dev lmdb-utils iproute2 strace procps valgrind"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps.sh: need root or sudo to install:$missing" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
