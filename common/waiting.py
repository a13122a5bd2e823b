"""One way to wait: ``wait_until(what, check, timeout=...)``.

Pure standard library (no Django), so host tooling, the images, the tests and the
benchmarks share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """What was awaited did not happen in time; the message names it."""


def wait_until(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    progress: Callable[[], None] | None = None,
    progress_every: float = 5.0,
    explain: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` until it returns something truthy, and return that.

    Raises WaitTimeout naming ``what`` (and, when given, what ``explain()`` says of the last
    state) after ``timeout`` seconds. ``progress`` is called every ``progress_every`` seconds
    while waiting, for commands that print where they are. An exception from ``check`` ends
    the wait at once: that is how a check says "this will never happen".
    """
    started = time.monotonic()
    deadline = started + timeout
    last_progress = started
    while True:
        result = check()
        if result:
            return result
        now = time.monotonic()
        if now >= deadline:
            detail = f": {explain()}" if explain else ""
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}{detail}")
        if progress is not None and now - last_progress >= progress_every:
            last_progress = now
            progress()
        time.sleep(min(interval, max(deadline - now, 0.0)))
