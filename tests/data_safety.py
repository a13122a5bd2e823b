"""What the data-safety tests share (a local redis-server, or a Redis task of the swarm stack):
a write load that records every answer, and the checks on what Redis holds afterwards.

Redis is read through one Lua script, so the same snapshot comes from a redis-py client
(local) or from `redis-cli EVAL` inside the Redis container (swarm), whose port is not
published.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import redis
import requests

from ops.load import post_idempotently

# Every hash of a kind with its fields, the kind's main index, and every other sorted set of
# the kind (invoices keep one index per customer), as one JSON document.
SNAPSHOT_LUA = """
local prefix, index_key = ARGV[1], KEYS[1]
local snapshot = {index = redis.call('ZRANGE', index_key, 0, -1), hashes = {}, indexes = {}}
for _, key in ipairs(redis.call('KEYS', prefix .. '*')) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'hash' then
    snapshot.hashes[string.sub(key, #prefix + 1)] = redis.call('HGETALL', key)
  elseif kind == 'zset' and key ~= index_key then
    snapshot.indexes[key] = redis.call('ZRANGE', key, 0, -1)
  end
end
return cjson.encode(snapshot)
"""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    index: frozenset[str]
    # entity id -> its hash
    hashes: dict[str, dict[str, str]]
    # other sorted set key -> members
    indexes: dict[str, frozenset[str]]

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        raw = json.loads(text)
        # cjson writes an empty Lua table as {}: the same as an empty list here.
        return cls(
            index=frozenset(raw["index"] or []),
            hashes={key: dict(zip(flat[::2], flat[1::2], strict=True)) for key, flat in (raw["hashes"] or {}).items()},
            indexes={key: frozenset(members or []) for key, members in (raw["indexes"] or {}).items()},
        )


def redis_snapshot(client: redis.Redis, kind: str) -> Snapshot:
    return Snapshot.from_json(client.eval(SNAPSHOT_LUA, 1, f"{kind}:index", f"{kind}:"))


def half_written(snapshot: Snapshot, fields: Iterable[str], *, per_customer_index: bool = False) -> list[str]:
    """Entities not entirely there: an index entry without its hash, a hash missing from the index
    (or from its customer's index) or lacking a field. Empty when every entity is whole."""
    fields = tuple(fields)
    problems = [f"{entity}: in the index, no hash" for entity in sorted(snapshot.index - snapshot.hashes.keys())]
    for entity, row in sorted(snapshot.hashes.items()):
        if entity not in snapshot.index:
            problems.append(f"{entity}: hash not in the index")
        if missing := [name for name in fields if not row.get(name)]:
            problems.append(f"{entity}: hash lacks {', '.join(missing)}")
        if per_customer_index and entity not in snapshot.indexes.get(f"invoice:customer:{row.get('customer_id')}", ()):
            problems.append(f"{entity}: not in its customer's index")
    return problems


@dataclasses.dataclass(frozen=True)
class Write:
    kind: str
    # the body posted, values as Redis stores them (strings)
    sent: dict[str, str]
    # HTTP status, or the name of the exception when no answer came
    status: int | str
    # seconds since the load started, when the answer came
    at: float
    body: object = None
    # what the attempts before the last one got (status or exception name), all with one Idempotency-Key
    retried: tuple[int | str, ...] = ()

    @property
    def entity_id(self) -> str | None:
        return self.body.get("id") if self.status == 201 and isinstance(self.body, dict) else None


def lost_or_altered(writes: Iterable[Write], snapshot: Snapshot, kind: str) -> list[str]:
    """Acknowledged writes of `kind` that are not in Redis as sent."""
    problems = []
    for write in writes:
        if write.kind != kind or write.entity_id is None:
            continue
        stored = snapshot.hashes.get(write.entity_id)
        if stored is None:
            problems.append(f"{write.entity_id} (acknowledged at {write.at:.2f}s): missing")
        elif altered := {name: stored.get(name) for name, value in write.sent.items() if stored.get(name) != value}:
            problems.append(f"{write.entity_id}: stored {altered}, sent {write.sent}")
    return problems


def unclear_refusals(writes: Iterable[Write], allowed: Iterable[int]) -> list[str]:
    """Answers other than 201 that are not one of the `allowed` statuses with an error body in JSON."""
    allowed = set(allowed)
    problems = []
    for write in writes:
        if write.status == 201:
            continue
        error = write.body.get("error") if isinstance(write.body, dict) else None
        if write.status not in allowed or not (isinstance(error, dict) and error.get("code") and error.get("message")):
            problems.append(f"{write.kind} at {write.at:.2f}s: {write.status} {write.body!r:.200}")
    return problems


class WriteLoad:
    """Threads POSTing new entities until stopped, recording every answer.

    `auth` are the headers that allow a write (the API token). `make_body(kind, n)` returns the
    body of the n-th write; `kinds` cycles (e.g. three customers, then an invoice). `rate` bounds
    the writes per second over all threads (0: as fast as the server answers). With `attempts`
    above 1, a write that got no answer, a 5xx or a 429 is sent again with the same
    Idempotency-Key (after `retry_pause` seconds, or Retry-After), up to `attempts` times in all
    (ops.load.post_idempotently); one Write records the last answer.
    """

    def __init__(
        self,
        base_url: str,
        make_body: Callable[[str, int], dict[str, object]],
        *,
        auth: Mapping[str, str],
        kinds: Iterable[str] = ("customer",),
        writers: int = 4,
        rate: float = 0.0,
        timeout: float = 10.0,
        attempts: int = 1,
        retry_pause: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.make_body = make_body
        self.auth = dict(auth)
        self.writers = writers
        self.rate = rate
        self.timeout = timeout
        self.attempts = attempts
        self.retry_pause = retry_pause
        self.writes: list[Write] = []
        self._kinds = itertools.cycle(tuple(kinds))
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next_at = 0.0
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    def start(self) -> WriteLoad:
        self.started = time.monotonic()
        self._next_at = self.started
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.writers)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Write]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=(self.timeout + self.retry_pause + 5) * self.attempts)
        return self.answers()

    def now(self) -> float:
        return time.monotonic() - self.started

    def answers(self) -> list[Write]:
        with self._lock:
            return sorted(self.writes, key=lambda write: write.at)

    def _claim(self) -> tuple[str, int, float]:
        with self._lock:
            kind, n = next(self._kinds), next(self._counter)
            when = max(self._next_at, time.monotonic())
            self._next_at = when + (1 / self.rate if self.rate else 0)
            return kind, n, when

    def _work(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            kind, n, when = self._claim()
            if self._stop.wait(max(0.0, when - time.monotonic())):
                return
            body = self.make_body(kind, n)
            # Only what may not have been written, or was refused before a service saw it (429), is sent again.
            posted = post_idempotently(
                session,
                f"{self.base_url}/api/{kind}s/",
                body,
                headers=self.auth,
                timeout=self.timeout,
                attempts=self.attempts,
                pause=self.retry_pause,
                max_pause=self.retry_pause,
                also_retry={429},
            )
            answer: object
            if posted.response is None:
                answer = str(posted.error)[:200]
            else:
                try:
                    answer = posted.response.json()
                except ValueError:
                    answer = posted.response.text[:200]
            sent = {name: str(value) for name, value in body.items()}
            with self._lock:
                self.writes.append(Write(kind, sent, posted.status, self.now(), answer, posted.failed_attempts))
