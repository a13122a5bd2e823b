"""Render the gateway's nginx.conf for local mode.

docker/gateway/nginx.conf is the only gateway configuration. Swarm uses it
unchanged; local mode swaps exactly these parts of it:

- the block between the ``backends:begin`` / ``backends:end`` markers: Docker
  DNS names become upstream blocks on 127.0.0.1 with a keepalive pool;
- the two ``listen`` lines: public ``8080`` and internal ``8081`` become
  127.0.0.1 addresses;
- in the ``listeners:begin`` / ``listeners:end`` block, the internal port (exempt
  from the rate limit, and without the headers only browsers use), and (with
  the limit off) the public key, so nothing is counted at all.

Everything that decides routing, limits, retries, headers, logs and error
bodies is shared. Each swap must match exactly once, or rendering fails.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ops.services import ROUTED_SERVICES

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_CONF = REPO_ROOT / "docker" / "gateway" / "nginx.conf"

_BACKENDS_BLOCK = re.compile(
    r"^[ \t]*# --- backends:begin.*?^[ \t]*# --- backends:end[^\n]*\n",
    re.MULTILINE | re.DOTALL,
)
# The container ports of the two listeners; the stack publishes PUBLIC_PORT as host port 80.
PUBLIC_PORT = 8080
INTERNAL_PORT = 8081
_LISTEN_LINE = re.compile(rf"^([ \t]*)listen {PUBLIC_PORT} default_server;$", re.MULTILINE)
_INTERNAL_LISTEN_LINE = re.compile(rf"^([ \t]*)listen {INTERNAL_PORT};$", re.MULTILINE)
_LISTENERS_BLOCK = re.compile(
    r"^[ \t]*# --- listeners:begin.*?^[ \t]*# --- listeners:end[^\n]*\n",
    re.MULTILINE | re.DOTALL,
)
_INTERNAL_PORT_LINE = re.compile(rf"^([ \t]*){INTERNAL_PORT}([ \t]+)1;$", re.MULTILINE)
_PUBLIC_KEY_LINE = re.compile(r"^([ \t]*)default([ \t]+)\$binary_remote_addr;$", re.MULTILINE)

TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class GatewayConfigError(RuntimeError):
    """The shared nginx.conf no longer has the parts local mode replaces."""


# Where each routed service listens in local mode: service name -> its 127.0.0.1 ports.
LocalBackends = Mapping[str, Sequence[int]]


def _upstream(name: str, ports: Sequence[int]) -> str:
    servers = "".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in ports)
    # Idle connections are kept 60 s, below gunicorn's keepalive (75 s, config/gunicorn.conf.py):
    # nginx closes an idle connection before the service does, never sends on a closing one.
    pool = "        keepalive 16;\n        keepalive_timeout 60s;\n"
    return f"    upstream {name}_local {{\n{servers}{pool}    }}\n"


def local_backends_block(backends: LocalBackends) -> str:
    """The nginx http-level block that replaces the swarm resolver block."""
    missing = [name for name in ROUTED_SERVICES if not backends.get(name)]
    if missing:
        raise GatewayConfigError(f"no local ports for the routed services {', '.join(missing)}")
    parts = ["    # --- backends (local mode, rendered by ops.gateway_config) ---\n"]
    for name in ROUTED_SERVICES:
        parts.append(_upstream(name, backends[name]))
    for name in ROUTED_SERVICES:
        parts.append(f'    map "" ${name}_backend {{ default {name}_local; }}\n')
    # Empty: no Connection header, so the pooled connections stay open for the next request.
    parts.append('    map "" $upstream_connection { default ""; }\n')
    # Relative to the -p prefix: the compiled-in temp paths are not writable
    # for a developer without root.
    for temp in TEMP_DIRS:
        parts.append(f"    {temp}_temp_path temp/{temp};\n")
    return "".join(parts)


def _swap_once(
    pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str], text: str, *, what: str, source: Path
) -> str:
    text, count = pattern.subn(replace, text)
    if count != 1:
        raise GatewayConfigError(f"{source}: expected exactly one {what}, found {count}")
    return text


def _local_listeners(block: str, *, internal_port: int, rate_limit: bool, source: Path) -> str:
    block = _swap_once(
        _INTERNAL_PORT_LINE,
        lambda m: f"{m.group(1)}{internal_port}{m.group(2)}1;",
        block,
        what=f"'{INTERNAL_PORT} 1;' line in the listeners block",
        source=source,
    )
    if rate_limit:
        return block
    return _swap_once(
        _PUBLIC_KEY_LINE,
        lambda m: f'{m.group(1)}default{m.group(2)}"";  # rate limit off (ops.dev --rate-limit off)',
        block,
        what="'default $binary_remote_addr;' line in the listeners block",
        source=source,
    )


def render_local(
    *,
    listen: str,
    internal_listen: str,
    backends: LocalBackends,
    rate_limit: bool = True,
    source: Path = GATEWAY_CONF,
) -> str:
    """Return the shared nginx.conf adapted to local processes.

    ``listen`` and ``internal_listen`` are nginx addresses ("127.0.0.1:8000"); with
    ``rate_limit`` False the public listener is not limited either (benchmarks).
    """
    text = source.read_text()
    text = _swap_once(
        _BACKENDS_BLOCK, lambda _: local_backends_block(backends), text, what="backends:begin/end block", source=source
    )
    text = _swap_once(
        _LISTEN_LINE,
        lambda m: f"{m.group(1)}listen {listen} default_server;",
        text,
        what=f"'listen {PUBLIC_PORT} default_server;'",
        source=source,
    )
    text = _swap_once(
        _INTERNAL_LISTEN_LINE,
        lambda m: f"{m.group(1)}listen {internal_listen};",
        text,
        what=f"'listen {INTERNAL_PORT};'",
        source=source,
    )
    internal_port = int(internal_listen.rpartition(":")[2])
    return _swap_once(
        _LISTENERS_BLOCK,
        lambda m: _local_listeners(m.group(0), internal_port=internal_port, rate_limit=rate_limit, source=source),
        text,
        what="listeners:begin/end block",
        source=source,
    )


def _ports(value: str) -> list[int]:
    return [int(port) for port in value.split(",") if port]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print docker/gateway/nginx.conf rendered for local mode (no Docker).")
    parser.add_argument("--listen", default="127.0.0.1:8000", help="public listener (rate limited)")
    parser.add_argument("--internal-listen", default="127.0.0.1:8081", help="internal listener (never limited)")
    parser.add_argument("--rate-limit", choices=("on", "off"), default="on", help="limit the public listener")
    # Imported here: ops.local renders its gateway with this module.
    from ops.local import Ports, local_backends

    for name, ports in local_backends(Ports()).items():
        default = ",".join(map(str, ports))
        parser.add_argument(f"--{name}", default=default, help="comma-separated ports (default %(default)s)")
    args = parser.parse_args(argv)
    backends = {name: _ports(getattr(args, name)) for name in ROUTED_SERVICES}
    rendered = render_local(
        listen=args.listen, internal_listen=args.internal_listen, backends=backends, rate_limit=args.rate_limit == "on"
    )
    sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
