"""Whether a host port is free for a host-mode published port, and who holds it when it is not.

Swarm accepts a host-mode port that something else already listens on; the task then fails to
start again and again, and `up` would only notice when its wait runs out. Checked before the
deploy instead, on the machine the docker CLI runs on, which is the engine's host for a local
engine and for Docker Desktop (it forwards published ports to the host).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def engine_is_local() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith(("unix://", "npipe://"))


def port_taken(port: int) -> bool:
    """True when binding the port on every interface fails because something listens there.

    A bind refused for want of privilege (ports below 1024 as a normal user) says nothing
    about the port: the engine binds it, not us, so that counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 (host-mode ports bind every interface)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def holder(port: int) -> str:
    """Who listens on the port, as far as this user may see: "nginx (pid 812)" or a hint."""
    inodes = _listening_inodes(port)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    name = (proc / "comm").read_text().strip()
                    return f"{name} (pid {proc.name})"
        except OSError:
            continue
    if sys.platform == "darwin":
        return f"another process (`lsof -nP -iTCP:{port} -sTCP:LISTEN` names it)"
    return f"another process (`sudo ss -ltnp 'sport = :{port}'` names it)"


def _listening_inodes(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _LISTEN:
                found.add(f"socket:[{fields[9]}]")
    return found
