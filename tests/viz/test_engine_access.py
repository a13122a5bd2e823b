"""viz without a swarm: what it sends to an engine (GET only) and how it fails (503, clear message)."""

import threading
import time

import pytest
import requests

from tests.viz.engines import RecordingProxy

READ_PAGES = ("/", "/api/state", "/readyz", "/healthz", "/metrics")


def test_only_get_requests_reach_the_engine(viz_factory, recording_proxy: RecordingProxy) -> None:
    viz = viz_factory(recording_proxy.url)
    for _ in range(3):
        for page in READ_PAGES:
            requests.get(f"{viz.url}{page}", timeout=5)
        time.sleep(0.6)

    assert recording_proxy.methods() == {"GET"}
    paths = set(recording_proxy.paths())
    assert {"/info", "/nodes"} <= paths, paths


def test_the_client_refuses_writes_before_the_wire(recording_proxy: RecordingProxy) -> None:
    from viz.engine import ReadOnlyViolation, _ReadOnlyAPIClient

    client = _ReadOnlyAPIClient(base_url=recording_proxy.url, version="1.41", timeout=3)
    writes = [
        lambda: client.create_service({"ContainerSpec": {"Image": "nothing"}}, name="viz-must-not-create"),
        lambda: client.remove_service("viz-must-not-remove"),
        lambda: client.update_node("nothing", 1, {}),
        lambda: client.kill("nothing"),
        lambda: client.remove_container("nothing", force=True),
        lambda: client.prune_containers(),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyViolation):
            write()
    client.info()

    assert recording_proxy.methods() == {"GET"}


def test_engine_round_is_shared_by_concurrent_browsers(viz_factory, recording_proxy: RecordingProxy) -> None:
    viz = viz_factory(recording_proxy.url, VIZ_SNAPSHOT_TTL="1.0", WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    requests.get(f"{viz.url}/api/state", timeout=5)
    before = recording_proxy.paths().count("/info")

    def browser() -> None:
        session = requests.Session()
        for _ in range(10):
            session.get(f"{viz.url}/api/state", timeout=5)
            time.sleep(0.1)

    started = time.monotonic()
    browsers = [threading.Thread(target=browser) for _ in range(8)]
    for thread in browsers:
        thread.start()
    for thread in browsers:
        thread.join()
    seconds = time.monotonic() - started

    rounds = recording_proxy.paths().count("/info") - before
    # 80 page polls; at most one engine round per second per worker process.
    assert rounds <= 2 * (int(seconds) + 2), (rounds, seconds)


def test_missing_socket_answers_503_with_a_clear_message(viz_factory) -> None:
    viz = viz_factory("unix:///nonexistent.sock")

    response = requests.get(f"{viz.url}/api/state", timeout=5)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert "No Docker engine socket at /nonexistent.sock" in error["message"]
    assert response.headers["Retry-After"] == "1"

    page = requests.get(f"{viz.url}/", timeout=5)
    assert page.status_code == 503
    assert "No Docker engine socket at /nonexistent.sock" in page.text

    ready = requests.get(f"{viz.url}/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert requests.get(f"{viz.url}/healthz", timeout=5).status_code == 200
    assert "http_requests" in requests.get(f"{viz.url}/metrics", timeout=5).text


def test_an_engine_that_is_no_swarm_manager_answers_503(viz_factory, fake_engine) -> None:
    viz = viz_factory(fake_engine.url)

    response = requests.get(f"{viz.url}/api/state", timeout=5)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "not a swarm manager" in response.json()["error"]["message"]
    assert requests.get(f"{viz.url}/readyz", timeout=5).status_code == 503


def test_viz_reconnects_when_the_engine_comes_back(viz_factory, recording_proxy: RecordingProxy) -> None:
    viz = viz_factory(recording_proxy.url, VIZ_SNAPSHOT_TTL="0.2")
    first = requests.get(f"{viz.url}/readyz", timeout=5).json()
    assert "No Docker engine socket" not in first.get("engine", "")

    recording_proxy.stop()
    time.sleep(0.3)
    gone = requests.get(f"{viz.url}/readyz", timeout=5)
    assert gone.status_code == 503
    assert "No Docker engine socket" in gone.json()["engine"]
    assert requests.get(f"{viz.url}/api/state", timeout=5).status_code == 503

    recording_proxy.start()
    time.sleep(0.3)
    assert requests.get(f"{viz.url}/readyz", timeout=5).json() == first
