"""The timeout chain from a client down to Redis, computed from the values that ship.

Read from the real files: docker/gateway/nginx.conf (directives, per location), the settings'
defaults (config/settings/base.py, in a process of its own with none of their variables set),
config/gunicorn.conf.py, the HTTP client core's backoff and the frontend's retries. Each link
says what waits, how long at most (its timeout) and the worst case of what it waits for; the
table "Timeouts and retries" in docker/README.md is the same chain in words.

The worst case of a hop: every step it takes in turn costs at most its own timeouts, retries
included, and a step that times out ends the request (the service answers 503, the gateway
504). Slow answers that still come in time are not bounded by any timeout, so not counted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAY_CONF = REPO_ROOT / "docker" / "gateway" / "nginx.conf"

# What a request does, in turn (the code, read by a person: see docker/README.md).
# An invoice POST: the Idempotency-Key claim in Redis, both lookups at once, the write in Redis.
INVOICE_POST_REDIS_STEPS = 2
# A read of an API: one Redis call (a page is one script).
API_READ_REDIS_STEPS = 1
# The longest page of the frontend: a failed invoice form reads the products, posts the invoice
# and shows the customer's page again (customer, invoices, products).
FRONTEND_PAGE_READS = 4
FRONTEND_PAGE_WRITES = 1

_TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


# ------------------------------------------------------------------------------
# nginx.conf
# ------------------------------------------------------------------------------
@dataclasses.dataclass
class Block:
    name: str
    args: tuple[str, ...]
    directives: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    blocks: list[Block] = dataclasses.field(default_factory=list)

    def find(self, name: str, *args: str) -> Block:
        for block in self.walk():
            if block.name == name and block.args == args:
                return block
        raise LookupError(f"no block {name} {' '.join(args)} in {GATEWAY_CONF}")

    def walk(self) -> Iterator[Block]:
        yield self
        for block in self.blocks:
            yield from block.walk()


def _tokens(text: str) -> Iterator[str]:
    pattern = re.compile(r"""#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};]+""")
    for match in pattern.finditer(text):
        token = match.group(0)
        if not token.startswith("#"):
            yield token.strip("'\"") if token[0] in "'\"" else token


def parse_nginx(text: str) -> Block:
    root = Block("main", ())
    stack = [root]
    words: list[str] = []
    for token in _tokens(text):
        if token == "{":
            block = Block(words[0], tuple(words[1:]))
            stack[-1].blocks.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            stack.pop()
        elif token == ";":
            stack[-1].directives[words[0]] = tuple(words[1:])
            words = []
        else:
            words.append(token)
    return root


def nginx_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", value)
    if not match:
        raise ValueError(f"not an nginx time: {value!r}")
    return float(match[1]) * _TIME_UNITS[match[2] or "s"]


@dataclasses.dataclass(frozen=True)
class Proxying:
    """The upstream settings one location of the gateway works with (its own, else inherited)."""

    where: str
    connect: float
    read: float
    tries: int
    next_upstream_timeout: float

    @property
    def attempt(self) -> float:
        return self.connect + self.read

    def idempotent_worst(self) -> float:
        """A read: any attempt may hang to its read timeout; another one starts only within
        next_upstream_timeout of the first, and never more than `tries`."""
        return min(self.tries * self.attempt, self.next_upstream_timeout + self.attempt)

    def write_worst(self) -> float:
        """A POST/PATCH goes to another task only when it could not connect (nothing was sent)."""
        return min((self.tries - 1) * self.connect, self.next_upstream_timeout) + self.attempt


def proxying(conf: Block, *location: str) -> Proxying:
    http = conf.find("http")
    server = http.find("server")
    chain = [server.find("location", *location), server, http]

    def value(name: str) -> str:
        for block in chain:
            if name in block.directives:
                return block.directives[name][0]
        raise LookupError(f"{name} is set nowhere for location {' '.join(location)}")

    return Proxying(
        where=f"location {' '.join(location)}",
        connect=nginx_seconds(value("proxy_connect_timeout")),
        read=nginx_seconds(value("proxy_read_timeout")),
        tries=int(value("proxy_next_upstream_tries")),
        next_upstream_timeout=nginx_seconds(value("proxy_next_upstream_timeout")),
    )


# ------------------------------------------------------------------------------
# Python settings, as they ship
# ------------------------------------------------------------------------------
_PYTHON_VALUES = """
import json, runpy
from config.settings import base
from common.http import _retry
from frontend import api
redis = base.redis_cache("redis://127.0.0.1:6379/0")["default"]["OPTIONS"]
gunicorn = runpy.run_path("config/gunicorn.conf.py")
print(json.dumps({
    "http_connect": base.HTTP_CONNECT_TIMEOUT,
    "http_read": base.HTTP_READ_TIMEOUT,
    "http_write": base.HTTP_WRITE_TIMEOUT,
    "invoices_retries": base.HTTP_GET_RETRIES,
    "frontend_retries": api.GATEWAY_CONNECT_RETRIES,
    "backoff_factor": _retry(1).backoff_factor,
    "redis_connect": redis["SOCKET_CONNECT_TIMEOUT"],
    "redis_command": redis["SOCKET_TIMEOUT"],
    "gunicorn_timeout": gunicorn["timeout"],
}))
"""


@cache
def python_values() -> dict[str, float]:
    """The defaults: read in a process whose environment sets none of the settings' variables."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SECRET_KEY": "timeout-chain",
        "PROMETHEUS_MULTIPROC_DIR": str(REPO_ROOT / ".run" / "timeout-chain-metrics"),
    }
    result = subprocess.run(
        [sys.executable, "-c", _PYTHON_VALUES], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"reading the settings failed:\n{result.stderr}")
    return json.loads(result.stdout)


def client_worst(*, connect: float, read: float, retries: int, backoff_factor: float) -> float:
    """A call through common.http: failed connections retried `retries` times (urllib3 waits
    backoff_factor * 2**(n-1) before retry n, nothing before the first), then one read."""
    backoff = sum(backoff_factor * 2 ** (n - 1) for n in range(2, retries + 1))
    return (retries + 1) * connect + backoff + read


# ------------------------------------------------------------------------------
# The chain
# ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Link:
    waiting: str  # who waits
    timeout_name: str
    timeout: float
    waits_for: str
    worst: float  # the worst case of what it waits for


@dataclasses.dataclass(frozen=True)
class Chain:
    links: list[Link]
    api_read: Proxying
    api_write: Proxying
    frontend: Proxying
    # What a client of the public listener waits at most: an API read, an API write, a page.
    public_api_read_worst: float
    public_api_write_worst: float
    public_page_worst: float


def chain(conf_text: str | None = None, values: dict[str, float] | None = None) -> Chain:
    conf = parse_nginx(conf_text if conf_text is not None else GATEWAY_CONF.read_text())
    v = values if values is not None else python_values()
    api_read = proxying(conf, "~", "^/api/customers(/|$)")
    api_write = proxying(conf, "=", "/_gateway/api-write")
    frontend = proxying(conf, "/")

    redis_step = v["redis_connect"] + v["redis_command"]
    service_read = API_READ_REDIS_STEPS * redis_step
    lookup = client_worst(
        connect=v["http_connect"],
        read=v["http_read"],
        retries=int(v["invoices_retries"]),
        backoff_factor=v["backoff_factor"],
    )
    invoice_post = INVOICE_POST_REDIS_STEPS * redis_step + lookup
    frontend_read = client_worst(
        connect=v["http_connect"],
        read=v["http_read"],
        retries=int(v["frontend_retries"]),
        backoff_factor=v["backoff_factor"],
    )
    frontend_write = client_worst(
        connect=v["http_connect"],
        read=v["http_write"],
        retries=int(v["frontend_retries"]),
        backoff_factor=v["backoff_factor"],
    )
    page = FRONTEND_PAGE_READS * frontend_read + FRONTEND_PAGE_WRITES * frontend_write
    links = [
        Link("gateway, API read", "proxy_read_timeout", api_read.read, "an API read in its service", service_read),
        Link(
            "invoices, a lookup",
            "HTTP_READ_TIMEOUT",
            v["http_read"],
            "the gateway, an API read",
            api_read.idempotent_worst(),
        ),
        Link(
            "frontend, a read",
            "HTTP_READ_TIMEOUT",
            v["http_read"],
            "the gateway, an API read",
            api_read.idempotent_worst(),
        ),
        Link(
            "gateway, API write",
            "proxy_read_timeout",
            api_write.read,
            "an invoice POST in invoices",
            invoice_post,
        ),
        Link(
            "frontend, a write",
            "HTTP_WRITE_TIMEOUT",
            v["http_write"],
            "the gateway, an API write",
            api_write.write_worst(),
        ),
        Link("gateway, a page", "proxy_read_timeout", frontend.read, "a page in the frontend", page),
        Link(
            "gunicorn, any service",
            "GUNICORN_TIMEOUT",
            v["gunicorn_timeout"],
            "the slowest request of any service",
            max(service_read, invoice_post, page),
        ),
    ]
    return Chain(
        links=links,
        api_read=api_read,
        api_write=api_write,
        frontend=frontend,
        public_api_read_worst=api_read.idempotent_worst(),
        public_api_write_worst=api_write.write_worst(),
        public_page_worst=frontend.idempotent_worst(),
    )
