"""The monitoring configuration agrees with the main stack it watches (no Docker needed): a
renamed stack, network or service would otherwise leave Prometheus scraping nothing, silently."""

import re
from pathlib import Path

import yaml

from ops import monitoring, stack

PROMETHEUS = monitoring.CONTEXT


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def relabel_regex(source_label: str) -> str:
    config = load(PROMETHEUS / "prometheus.yml")
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "services")
    rule = next(rule for rule in job["relabel_configs"] if rule["source_labels"] == [source_label])
    assert rule["action"] == "keep"
    return rule["regex"]


def test_prometheus_joins_the_main_stacks_networks() -> None:
    networks = load(monitoring.STACK_FILE)["networks"]
    main = load(stack.STACK_FILE)["networks"]
    assert {network["name"] for network in networks.values()} == set(monitoring.MAIN_NETWORKS)
    for key, network in networks.items():
        assert network["external"] is True
        assert network["name"] == f"{stack.STACK}_{key}"
        assert key in main


def test_every_django_service_of_the_main_stack_is_kept_on_a_network_prometheus_shares() -> None:
    services = load(stack.STACK_FILE)["services"]
    kept_services = relabel_regex("__meta_dockerswarm_service_name")
    kept_networks = relabel_regex("__meta_dockerswarm_network_name")
    assert relabel_regex("__meta_dockerswarm_service_label_com_docker_stack_namespace") == stack.STACK
    for service in stack.DJANGO_SERVICES:
        assert re.fullmatch(kept_services, f"{stack.STACK}_{service}"), service
        networks = services[service]["networks"]
        assert any(re.fullmatch(kept_networks, f"{stack.STACK}_{network}") for network in networks), service
    assert not re.fullmatch(kept_services, f"{stack.STACK}_gateway")


def test_every_recording_rule_the_dashboard_reads_is_defined() -> None:
    rules = load(PROMETHEUS / "rules.yml")
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"]}
    pages = [*PROMETHEUS.glob("consoles/*.html"), *PROMETHEUS.glob("console_libraries/*.lib")]
    used = {name for page in pages for name in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", page.read_text())}
    assert used, "the pages read recording rules"
    assert used <= recorded, f"undefined: {sorted(used - recorded)}"
