"""How raw engine objects become cards: image versions, colours, stack names, health."""

import pytest

from viz.snapshot import _health_from_status, _short_name, image_tag, image_without_digest, version_colour


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("demo/customers:v2@sha256:" + "a" * 64, "v2"),
        ("registry.local:5000/demo/customers:v3", "v3"),
        ("registry.local:5000/demo/customers", "latest"),
        ("redis", "latest"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag
    assert "@" not in image_without_digest(image)


def test_consecutive_versions_get_different_colours() -> None:
    colours = [version_colour(v) for v in ("v1", "v2", "v3", "v4")]
    assert len(set(colours)) == 4
    assert version_colour("v2") == version_colour("2") == version_colour("v2-rc1")
    assert version_colour("latest") == version_colour("latest")


def test_stack_prefix_is_stripped_by_its_namespace_label() -> None:
    assert _short_name({"Name": "demo_customers", "Labels": {"com.docker.stack.namespace": "demo"}}) == "customers"
    assert _short_name({"Name": "demo_customers", "Labels": {}}) == "demo_customers"


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 3 minutes (healthy)", "healthy"),
        ("Up 3 minutes (unhealthy)", "unhealthy"),
        ("Up 1 second (health: starting)", "starting"),
        ("Up 3 minutes", "none"),
    ],
)
def test_container_health_from_its_status_line(status: str, health: str) -> None:
    assert _health_from_status(status) == health
