"""Render the gateway's nginx.conf for local mode.

docker/gateway/nginx.conf is the only gateway configuration. Swarm uses it
unchanged; local mode swaps exactly two parts of it: the block between the
``backends:begin`` / ``backends:end`` markers (Docker DNS names become upstream
blocks on 127.0.0.1 with keepalive) and the ``listen`` line. Everything that
decides routing, retries, headers, logs and error bodies is shared.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_CONF = REPO_ROOT / "docker" / "gateway" / "nginx.conf"

_BACKENDS_BLOCK = re.compile(
    r"^[ \t]*# --- backends:begin.*?^[ \t]*# --- backends:end[^\n]*\n",
    re.MULTILINE | re.DOTALL,
)
_LISTEN_LINE = re.compile(r"^([ \t]*)listen 80 default_server;$", re.MULTILINE)

TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class GatewayConfigError(RuntimeError):
    """The shared nginx.conf no longer has the parts local mode replaces."""


@dataclass(frozen=True)
class LocalBackends:
    """Where each backend listens in local mode (127.0.0.1 ports)."""

    customers: Sequence[int]
    products: Sequence[int]
    invoices: Sequence[int]
    frontend: Sequence[int]


def _upstream(name: str, ports: Sequence[int]) -> str:
    servers = "".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in ports)
    return f"    upstream {name}_local {{\n{servers}        keepalive 16;\n    }}\n"


def local_backends_block(backends: LocalBackends) -> str:
    """The nginx http-level block that replaces the swarm resolver block."""
    parts = ["    # --- backends (local mode, rendered by ops.gateway_config) ---\n"]
    for name in ("customers", "products", "invoices", "frontend"):
        parts.append(_upstream(name, getattr(backends, name)))
    for name in ("customers", "products", "invoices", "frontend"):
        parts.append(f'    map "" ${name}_backend {{ default {name}_local; }}\n')
    # Relative to the -p prefix: the compiled-in temp paths are not writable
    # for a developer without root.
    for temp in TEMP_DIRS:
        parts.append(f"    {temp}_temp_path temp/{temp};\n")
    return "".join(parts)


def render_local(*, listen: str, backends: LocalBackends, source: Path = GATEWAY_CONF) -> str:
    """Return the shared nginx.conf adapted to local processes."""
    text = source.read_text()
    text, blocks = _BACKENDS_BLOCK.subn(lambda _: local_backends_block(backends), text)
    if blocks != 1:
        raise GatewayConfigError(f"{source}: expected one backends:begin/end block, found {blocks}")
    text, listens = _LISTEN_LINE.subn(lambda m: f"{m.group(1)}listen {listen} default_server;", text)
    if listens != 1:
        raise GatewayConfigError(f"{source}: expected one 'listen 80 default_server;', found {listens}")
    return text


def _ports(value: str) -> list[int]:
    return [int(port) for port in value.split(",") if port]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print docker/gateway/nginx.conf rendered for local mode (no Docker).")
    parser.add_argument("--listen", default="127.0.0.1:8000", help="nginx listen address")
    parser.add_argument("--customers", default="8001,8011", help="comma-separated ports")
    parser.add_argument("--products", default="8002", help="comma-separated ports")
    parser.add_argument("--invoices", default="8003", help="comma-separated ports")
    parser.add_argument("--frontend", default="8004", help="comma-separated ports")
    args = parser.parse_args(argv)
    backends = LocalBackends(
        customers=_ports(args.customers),
        products=_ports(args.products),
        invoices=_ports(args.invoices),
        frontend=_ports(args.frontend),
    )
    sys.stdout.write(render_local(listen=args.listen, backends=backends))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
