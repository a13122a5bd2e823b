"""The only code that talks to the Docker Engine API, and it can only read.

Every public function is a GET (info, nodes, services, tasks, containers). The client class
refuses any other HTTP method before a byte leaves the process, so no code path, present or
future, can create, update or remove anything through this module.

A failed call drops the client; the next call builds a new one, so an engine restart (or a
socket that appears later) heals without restarting viz.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import docker
import requests
from django.conf import settings
from docker.errors import APIError, DockerException

from common.errors import ServiceUnavailable

# Labels the engine puts on every container it runs for a swarm task.
TASK_ID_LABEL = "com.docker.swarm.task.id"


class EngineUnavailable(ServiceUnavailable):
    """The engine cannot be read: no socket, no permission, engine down or not a swarm manager."""


class ReadOnlyViolation(RuntimeError):
    pass


class _ReadOnlyAPIClient(docker.APIClient):
    """docker's low-level client with every method but GET refused at the last step before the wire."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        verb = method.decode() if isinstance(method, bytes) else method
        if verb.upper() != "GET":
            raise ReadOnlyViolation(f"viz reads the engine only; refused {verb} {url!r}")
        return super().request(method, url, *args, **kwargs)


_lock = threading.Lock()
_client: _ReadOnlyAPIClient | None = None


def engine_url() -> str:
    return settings.VIZ_DOCKER_HOST


def _socket_path() -> str | None:
    url = engine_url()
    for prefix in ("unix://", "http+unix://"):
        if url.startswith(prefix):
            return url[len(prefix) :]
    return None


def _explain(exc: Exception) -> str:
    """A message an operator can act on, without a traceback."""
    path = _socket_path()
    if path is not None and not os.path.exists(path):
        return f"No Docker engine socket at {path}: mount the manager's /var/run/docker.sock into viz."
    if path is not None and not os.access(path, os.R_OK | os.W_OK):
        return (
            f"Permission denied on {path}: viz runs as uid {os.getuid()} with groups {sorted(os.getgroups())}; "
            "give it the socket's group."
        )
    if isinstance(exc, APIError) and exc.status_code == 503:
        return (
            "This Docker engine is not a swarm manager (or the swarm has lost its quorum): run viz on a manager node."
        )
    return f"The Docker engine at {engine_url()} cannot be read: {type(exc).__name__}: {exc}"


def _connect() -> _ReadOnlyAPIClient:
    return _ReadOnlyAPIClient(
        base_url=engine_url(), version=settings.VIZ_DOCKER_API_VERSION, timeout=settings.VIZ_DOCKER_TIMEOUT
    )


def _get(call: str, **kwargs: Any) -> Any:
    """One read call on a shared client, reconnecting after any failure."""
    global _client
    with _lock:
        client = _client
    try:
        if client is None:
            client = _connect()
            with _lock:
                _client = client
        return getattr(client, call)(**kwargs)
    except ReadOnlyViolation:
        raise
    except (DockerException, requests.RequestException, OSError) as exc:
        with _lock:
            if _client is client and client is not None:
                _client = None
        if client is not None:
            client.close()
        raise EngineUnavailable(_explain(exc)) from exc


def engine_info() -> dict[str, Any]:
    return _get("info")


def nodes_list() -> list[dict[str, Any]]:
    return _get("nodes")


def services_list() -> list[dict[str, Any]]:
    return _get("services", status=True)


def tasks_list() -> list[dict[str, Any]]:
    return _get("tasks")


def task_containers_list() -> list[dict[str, Any]]:
    """The running containers of swarm tasks on the engine viz talks to (health lives in their status)."""
    return _get("containers", filters={"label": TASK_ID_LABEL})
