"""A small circuit breaker: after repeated failures, calls fail at once for a cool-down period
instead of each waiting for a timeout, and one trial call decides whether to close again."""

import threading
import time


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int, reset_seconds: float) -> None:
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    def allow(self) -> bool:
        """Whether a call may go out now (closed, or the single trial of a cooled-down circuit)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial_in_flight or time.monotonic() - self._opened_at < self.reset_seconds:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._opened_at is not None or self._failures >= self.failure_threshold:
                self._opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None
