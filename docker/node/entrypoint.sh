#!/bin/sh
# Run the command, dockerd and its flags (ops.cluster passes them, as to the official docker:dind
# image), as the container's main process.
#
# A node that was killed left pid files behind in its writable layer; dockerd and containerd
# refuse to start while they exist.
set -eu
find /run /var/run -name '*.pid' \( -path '*docker*' -o -path '*containerd*' \) -delete 2>/dev/null || true

# cgroup v2 in a private cgroup namespace: the root of the namespace may not hold processes
# once controllers are delegated to children, so move ours into a leaf first. Never on a host
# hierarchy (the namespace root would be the host's).
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qx '0::/' /proc/self/cgroup; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs || true
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
fi
exec "$@"
