"""ops/services.py is the one list of deployables: the stack, the gateway's routes and the Django
configuration must say the same as the table."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from ops.services import DJANGO_SERVICES, ROUTED_SERVICES, SERVICES, Service, service

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK = yaml.safe_load((REPO_ROOT / "swarm-stack.yml").read_text())["services"]
NGINX_CONF = (REPO_ROOT / "docker" / "gateway" / "nginx.conf").read_text()
IMAGE = re.compile(r"^\$\{REGISTRY[^}]*\}/(?P<image>[a-z0-9-]+):")
# `location [modifier] pattern {` and the block up to the first closing brace: a route names its
# backend before anything nested (the API routes' `if` that sends writes on).
LOCATION = re.compile(r"^\s*location\s+(?:(?P<modifier>=|~\*?|\^~)\s+)?(?P<pattern>\S+)\s*\{(?P<body>[^}]*)\}", re.M)
# A route proxies to its backend, or sets it for the location that sends the API writes.
BACKEND = re.compile(r"(?:proxy_pass\s+http://|set\s+\$gateway_api\s+)\$(\w+)_backend\s*;")
STACK_SERVICES = [entry for entry in SERVICES if entry.name != "redis"]
WITH_REDIS = [entry for entry in SERVICES if entry.redis]


def image_of(stack_service: str) -> str:
    match = IMAGE.match(STACK[stack_service]["image"])
    assert match, f"{stack_service}: image {STACK[stack_service]['image']!r} is not ${{REGISTRY...}}/<image>:<tag>"
    return match["image"]


@pytest.mark.parametrize("entry", STACK_SERVICES, ids=lambda entry: entry.name)
def test_each_service_of_the_table_is_in_the_stack_with_its_image(entry: Service):
    assert entry.name in STACK
    assert image_of(entry.name) == entry.image


@pytest.mark.parametrize("entry", WITH_REDIS, ids=lambda entry: entry.name)
def test_each_service_with_redis_has_its_redis_sibling_in_the_stack(entry: Service):
    assert image_of(f"{entry.name}-redis") == service("redis").image


def test_every_service_of_the_stack_runs_an_image_of_the_table():
    images = {entry.image for entry in SERVICES}
    assert {name: image_of(name) for name in STACK if image_of(name) not in images} == {}


def routes() -> dict[str, list[tuple[str | None, str]]]:
    """Backend name -> the (modifier, pattern) of each location of the gateway that proxies to it."""
    found: dict[str, list[tuple[str | None, str]]] = {}
    for location in LOCATION.finditer(NGINX_CONF):
        backend = BACKEND.search(location["body"])
        if backend:
            found.setdefault(backend[1], []).append((location["modifier"], location["pattern"]))
    return found


def location_matches(modifier: str | None, pattern: str, path: str) -> bool:
    if modifier in ("~", "~*"):
        return re.search(pattern, path, re.IGNORECASE if modifier == "~*" else 0) is not None
    return path == pattern if modifier == "=" else path.startswith(pattern)


@pytest.mark.parametrize("name", ROUTED_SERVICES)
def test_the_gateway_routes_each_url_prefix_to_its_service(name: str):
    prefix = service(name).url_prefix
    assert prefix
    assert any(location_matches(modifier, pattern, prefix) for modifier, pattern in routes().get(name, []))
    assert re.search(rf'^\s*map ""\s+\${name}_backend\s+\{{\s*default {name}:\d+;\s*\}}', NGINX_CONF, re.M)


def test_the_gateway_proxies_to_no_service_outside_the_table():
    assert set(routes()) == set(ROUTED_SERVICES)


@pytest.mark.parametrize("name", DJANGO_SERVICES)
def test_each_django_service_has_its_settings_module_and_urlconf(name: str):
    settings = service(name).settings
    assert settings
    assert importlib.util.find_spec(settings) is not None
    assert (REPO_ROOT / "config" / "urls" / f"{name}.py").is_file()
