"""Bursts against the gateway's per-client rate limit, for the local and the swarm suites."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from common.waiting import wait_until

THREADS = 12
# Far above the public burst (60 requests, 20 writes): a burst that never meets the limit fails.
MAX_BURST = 600
RECOVERY_TIMEOUT = 15.0


def burst(send: Callable[[requests.Session], requests.Response], *, stop_at_429: bool = True, total: int = MAX_BURST):
    """Send from THREADS threads at once until a 429 comes back (or `total` requests were sent)."""
    responses: list[requests.Response] = []
    sent = 0
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        nonlocal sent
        with requests.Session() as session:
            while not stop.is_set():
                with lock:
                    if sent >= total:
                        return
                    sent += 1
                response = send(session)
                with lock:
                    responses.append(response)
                if stop_at_429 and response.status_code == 429:
                    stop.set()

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(worker) for _ in range(THREADS)]:
            future.result()
    return responses


def wait_until_served(url: str) -> requests.Response:
    """Bounded: the limit gives a token back every 1/rate seconds, so this ends within seconds."""

    def served() -> requests.Response | None:
        response = requests.get(url, timeout=10)
        return response if response.status_code != 429 else None

    return wait_until(f"{url} served again (not 429)", served, timeout=RECOVERY_TIMEOUT, interval=0.25)
