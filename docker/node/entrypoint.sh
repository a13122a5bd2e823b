#!/bin/sh
# Start dockerd as the container's main process.
#
# DOCKERD_CONFIG (JSON) becomes /etc/docker/daemon.json, so the registry the node trusts and
# its storage driver are set by whoever starts the node. A node that was killed left pid files
# behind in its writable layer; dockerd and containerd refuse to start while they exist.
set -eu
mkdir -p /etc/docker
if [ -n "${DOCKERD_CONFIG:-}" ]; then
    printf '%s\n' "$DOCKERD_CONFIG" > /etc/docker/daemon.json
fi
find /run /var/run -name '*.pid' \( -path '*docker*' -o -path '*containerd*' \) -delete 2>/dev/null || true
exec dockerd "$@"
