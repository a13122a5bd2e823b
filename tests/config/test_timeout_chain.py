"""Every outer timeout is longer than the worst case of what it waits for, from the gateway's
public listener down to Redis, with the values that ship (tests/timeout_chain.py reads them).

The chain is written once, in docker/README.md ("Timeouts and retries"); this test keeps the
values from drifting away from it.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.timeout_chain import GATEWAY_CONF, chain, nginx_seconds, parse_nginx, proxying, python_values

# One retry layer per hop: one lookup costs at most this many upstream attempts
# (tests/integration/test_retry_budget.py counts them in the gateway's log).
MAX_UPSTREAM_ATTEMPTS = 3


@pytest.fixture(scope="module")
def shipped():
    return chain()


def test_every_outer_timeout_outlasts_the_worst_case_of_its_inner_hop(shipped):
    for link in shipped.links:
        print(f"{link.waiting}: {link.timeout_name} {link.timeout:g}s > {link.waits_for} {link.worst:g}s")
    too_short = [link for link in shipped.links if not link.timeout > link.worst]
    assert not too_short, "\n".join(
        f"{link.waiting}: {link.timeout_name} {link.timeout:g}s is not longer than {link.waits_for} ({link.worst:g}s)"
        for link in too_short
    )


@pytest.mark.parametrize("proxy", ["api_read", "frontend"])
def test_a_read_that_hangs_is_tried_again_on_another_task(shipped, proxy):
    hop = getattr(shipped, proxy)

    # After one full attempt (connect, then the whole read timeout) there is still time to start another.
    assert hop.next_upstream_timeout > hop.attempt, hop
    assert hop.tries >= 2, hop


def test_an_api_read_that_hangs_is_retried_well_before_the_old_thirty_seconds(shipped):
    assert shipped.api_read.attempt <= 10, shipped.api_read


@pytest.mark.parametrize("service", ["products", "invoices"])
def test_every_api_route_reads_with_the_settings_the_chain_was_computed_for(shipped, service):
    route = proxying(parse_nginx(GATEWAY_CONF.read_text()), "~", f"^/api/{service}(/|$)")

    assert dataclasses.replace(route, where=shipped.api_read.where) == shipped.api_read


def test_one_lookup_costs_at_most_three_upstream_attempts(shipped):
    assert shipped.api_read.tries <= MAX_UPSTREAM_ATTEMPTS


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (("proxy_read_timeout 4s;", "proxy_read_timeout 2s;"), "gateway, API read"),
        (("proxy_read_timeout 25s;", "proxy_read_timeout 20s;"), "gateway, API write"),
        (("proxy_read_timeout 90s;", "proxy_read_timeout 60s;"), "gateway, a page"),
        (("proxy_next_upstream_timeout 6s;", "proxy_next_upstream_timeout 20s;"), "invoices, a lookup"),
    ],
)
def test_the_check_catches_a_shortened_or_lengthened_hop(change, broken):
    old, new = change
    text = GATEWAY_CONF.read_text()
    assert text.count(old) == 1, old

    links = chain(text.replace(old, new)).links

    assert [link.waiting for link in links if not link.timeout > link.worst][:1] == [broken]


@pytest.mark.parametrize(
    ("name", "value", "broken"),
    [
        ("http_read", 3.0, "invoices, a lookup"),
        ("http_write", 10.0, "frontend, a write"),
        ("redis_command", 5.0, "gateway, API read"),
        ("gunicorn_timeout", 30, "gunicorn, any service"),
    ],
)
def test_the_check_catches_a_python_value_that_breaks_the_chain(name, value, broken):
    values = {**python_values(), name: value}

    assert broken in [link.waiting for link in chain(values=values).links if not link.timeout > link.worst]


def test_nginx_times_are_read_with_their_units():
    assert [nginx_seconds(v) for v in ("4s", "500ms", "2m", "30")] == [4.0, 0.5, 120.0, 30.0]
