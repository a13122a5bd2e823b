"""The deployables of the system, written once.

ops (images, stack, local mode, the gateway's local config), bench and the test
parametrisations read this table; ``tests/test_services_table.py`` checks swarm-stack.yml
and the gateway's routes against it. A new service is one row here plus its app, its
settings module and its URLconf.

Plain Python with no Django import, so the host tooling can read it on any python3 (3.9 too:
the annotations are never evaluated).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    # Django settings module of the deployable; None for images that are not Django (redis, gateway).
    settings: str | None
    # True when the service owns a Redis ("<name>-redis" in the stack, REDIS_URL in its settings).
    redis: bool
    # Port of its gunicorn in local mode (python -m ops.dev); None when local mode does not run it.
    local_port: int | None
    # Path prefix the gateway routes to it; None when the gateway does not route it.
    url_prefix: str | None
    # Image repository under the registry prefix: "<registry>/<image>:<tag>".
    image: str

    @property
    def django(self) -> bool:
        return self.settings is not None

    @property
    def api(self) -> bool:
        """A REST API of the business (customers, products, invoices)."""
        return self.redis


SERVICES: tuple[Service, ...] = (
    Service("customers", "config.settings.customers", True, 8001, "/api/customers/", "customers"),
    Service("products", "config.settings.products", True, 8002, "/api/products/", "products"),
    Service("invoices", "config.settings.invoices", True, 8003, "/api/invoices/", "invoices"),
    Service("frontend", "config.settings.frontend", False, 8004, "/", "frontend"),
    Service("viz", "config.settings.viz", False, None, None, "viz"),
    Service("redis", None, False, None, None, "redis"),
    Service("gateway", None, False, None, None, "gateway"),
    Service("socket-proxy", None, False, None, None, "socket-proxy"),
)

BY_NAME = {service.name: service for service in SERVICES}

# The REST APIs, each with its own Redis: customers, products, invoices.
API_SERVICES = tuple(s.name for s in SERVICES if s.api)
# Everything the gateway routes to: the APIs and the frontend.
ROUTED_SERVICES = tuple(s.name for s in SERVICES if s.url_prefix)
# Services with a local-mode process.
LOCAL_SERVICES = tuple(s.name for s in SERVICES if s.local_port is not None)
# Every image built from docker/Dockerfile (one Django codebase, a settings module each).
DJANGO_SERVICES = tuple(s.name for s in SERVICES if s.django)
# Images built from their own Dockerfile under docker/<name>/.
INFRA_SERVICES = tuple(s.name for s in SERVICES if not s.django)
# What a rolling upgrade rolls: the application's services (viz is the operator's tool).
APP_SERVICES = ROUTED_SERVICES


def service(name: str) -> Service:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(BY_NAME)}") from None
