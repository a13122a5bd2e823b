"""Entities in Redis: one hash per entity, sorted-set indexes (score = creation time) for listing.

Every write that touches more than one key runs as one MULTI/EXEC transaction or one script, so a
crash or a lost connection never leaves a hash without its index entry or the other way round.
"""

import base64
import binascii
import dataclasses
import functools
import time
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis
from django_redis import get_redis_connection
from redis.commands.core import Script

from common import metrics
from common.errors import ApplicationError

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = typing.TypeVar("T", bound="DataclassInstance")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class InvalidCursor(ApplicationError):
    code = "validation_error"

    def __init__(self) -> None:
        super().__init__("Invalid input.", fields={"cursor": ["This cursor is not valid."]})


@dataclass(frozen=True)
class Claim:
    """A key that at most one write may set (e.g. an idempotency key), with its value and lifetime."""

    key: str
    value: str
    ttl_seconds: int


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, str]]
    next_cursor: str | None


def now_score() -> float:
    """Microseconds since the epoch: unique enough to order entities, exact in a double."""
    return float(time.time_ns() // 1000)


def encode_cursor(score: float, member: str) -> str:
    return base64.urlsafe_b64encode(f"{int(score)}:{member}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, member = raw.split(":", 1)
        return float(int(score)), member
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor() from None


class timed:
    """Records how long the block took as redis_command_duration_seconds{operation}. A class, not
    a generator-based context manager: this wraps every Redis round trip of every request."""

    __slots__ = ("operation", "started")

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        metrics.labelled(metrics.REDIS_SECONDS, self.operation).observe(time.perf_counter() - self.started)


class EntityStore:
    """Hashes `<kind>:<id>` listed newest first through the sorted set `<kind>:index`."""

    def __init__(self, kind: str, connection: redis.Redis | None = None) -> None:
        self.kind = kind
        self.index_key = f"{kind}:index"
        self._connection = connection

    @property
    def redis(self) -> redis.Redis:
        """A client that decodes replies (settings.redis_cache): they are str, where redis-py types
        them bytes | str."""
        return self._connection or get_redis_connection("default")

    def key(self, entity_id: str) -> str:
        return f"{self.kind}:{entity_id}"

    def load(self, entity_id: str) -> dict[str, str] | None:
        with timed(f"{self.kind}.load"):
            row = typing.cast("dict[str, str]", self.redis.hgetall(self.key(entity_id)))
        return row or None

    def insert(
        self,
        entity_id: str,
        fields: Mapping[str, str],
        *,
        score: float,
        extra_indexes: Sequence[str] = (),
        claim: Claim | None = None,
    ) -> str | None:
        """Write the hash and its index entries in one atomic step (_INSERT_LUA).

        With a claim, the write happens only if nobody holds the claim's key yet (checked inside
        the script, so two racing writers cannot both win); the current holder's value is
        returned instead, and None means this entity was written.
        """
        indexes = (self.index_key, *extra_indexes)
        keys = [self.key(entity_id), *indexes]
        args: list[str | int | float] = [len(indexes), entity_id, score]
        if claim is not None:
            keys.append(claim.key)
            args += [claim.value, claim.ttl_seconds]
        else:
            args += ["", ""]
        for field, value in fields.items():
            args += [field, value]
        with timed(f"{self.kind}.insert"):
            return typing.cast("str | None", _INSERT_SCRIPT(keys=keys, args=args, client=self.redis))

    def update(self, entity_id: str, fields: Mapping[str, str]) -> dict[str, str] | None:
        """Change fields of an existing entity; None when it does not exist (never recreates it)."""
        key = self.key(entity_id)
        with timed(f"{self.kind}.update"), self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    if not pipe.exists(key):
                        return None
                    pipe.multi()
                    pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]  # as in insert()
                    pipe.hgetall(key)
                    return pipe.execute()[-1]
                except redis.WatchError:
                    continue

    def delete(self, entity_id: str) -> bool:
        with timed(f"{self.kind}.delete"):
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(self.key(entity_id))
            pipe.zrem(self.index_key, entity_id)
            deleted, _ = pipe.execute()
        return bool(deleted)

    def page(self, *, index_key: str | None = None, cursor: str | None, limit: int) -> Page:
        """Newest first; the cursor is the (score, id) of the last row of the previous page."""
        index_key = index_key or self.index_key
        after = decode_cursor(cursor) if cursor else None
        with timed(f"{self.kind}.page"):
            # One round trip for the index range and the hashes: a page is the most frequent read,
            # and per-reply parsing in the client costs more than the work Redis does for it.
            flat_entries, raw_rows = _PAGE_SCRIPT(
                keys=[index_key],
                args=[
                    repr(after[0]) if after else "+inf",
                    "1" if after else "0",
                    after[1] if after else "",
                    limit + 1,
                    limit,
                    f"{self.kind}:",
                ],
                client=self.redis,
            )
        entries = [(flat_entries[i], float(flat_entries[i + 1])) for i in range(0, len(flat_entries), 2)]
        rows = [dict(zip(raw[::2], raw[1::2], strict=True)) for raw in raw_rows if raw]
        next_cursor = encode_cursor(entries[limit - 1][1], entries[limit - 1][0]) if len(entries) > limit else None
        return Page(rows=rows, next_cursor=next_cursor)


# An insert as one script, so its claim check and its writes are one atomic step in one round
# trip (under WATCH and MULTI/EXEC it took four, each parsed by the client). The shebang makes
# Redis judge the whole script before it runs: over maxmemory it is refused with OOM, nothing
# written, as a MULTI/EXEC was.
_INSERT_LUA = """#!lua
local indexes = tonumber(ARGV[1])
local claim = KEYS[indexes + 2]
if claim then
  local holder = redis.call("GET", claim)
  if holder then return holder end
  redis.call("SET", claim, ARGV[4], "EX", ARGV[5])
end
redis.call("HSET", KEYS[1], unpack(ARGV, 6))
for i = 2, indexes + 1 do
  redis.call("ZADD", KEYS[i], ARGV[3], ARGV[2])
end
return false
"""
_INSERT_SCRIPT = Script(None, _INSERT_LUA.encode())  # type: ignore[arg-type]


# The page read as one script. Entities sharing the cursor's score come in descending id order;
# those at or after the cursor's id were served on the previous page and are skipped. Ids are
# compared byte by byte (Lua's `<` follows the server's locale, Python compares code points).
# Hash keys are built from the prefix inside the script: each service has a Redis of its own,
# never a cluster, so undeclared keys are fine.
_PAGE_LUA = """
local max_score, has_after, after_member = ARGV[1], ARGV[2] == "1", ARGV[3]
local after_score = has_after and tonumber(ARGV[1]) or nil
local wanted, limit, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]

local function id_before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local entries, offset = {}, 0
while #entries < 2 * wanted do
  local batch = redis.call("ZREVRANGEBYSCORE", KEYS[1], max_score, "-inf", "WITHSCORES", "LIMIT", offset, wanted)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local member, score = batch[i], batch[i + 1]
    if not has_after or tonumber(score) < after_score or id_before(member, after_member) then
      entries[#entries + 1] = member
      entries[#entries + 1] = score
    end
  end
end
while #entries > 2 * wanted do table.remove(entries) end

local rows = {}
for i = 1, math.min(#entries / 2, limit) do
  rows[i] = redis.call("HGETALL", prefix .. entries[2 * i - 1])
end
return {entries, rows}
"""
# Bytes, so no client is needed to hash it; each call names the connection to run on.
_PAGE_SCRIPT = Script(None, _PAGE_LUA.encode())  # type: ignore[arg-type]


def load_scripts(client: redis.Redis) -> None:
    """Load the stores' scripts into the Redis of ``client``. A call loads its script when Redis
    does not know it; a batch that only queues calls (bench.seed) cannot."""
    for script in (_INSERT_SCRIPT, _PAGE_SCRIPT):
        client.script_load(script.script)


def to_row(entity: "DataclassInstance") -> dict[str, str]:
    """A dataclass as Redis hash fields: strings only (ISO datetimes, exact decimals), never pickle."""
    return {field.name: _encode(getattr(entity, field.name)) for field in dataclasses.fields(entity)}


def from_row(cls: type[T], row: Mapping[str, str]) -> T:
    """The dataclass `cls` rebuilt from hash fields written by to_row."""
    return cls(**{name: _decode(kind, row[name]) for name, kind in _field_types(cls)})


@functools.cache
def _field_types(cls: type) -> tuple[tuple[str, type], ...]:
    # Resolving type hints evaluates annotations: far too slow to repeat for every row of every page.
    hints = typing.get_type_hints(cls)
    return tuple((field.name, hints[field.name]) for field in dataclasses.fields(cls))


def _encode(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _decode(kind: type, raw: str) -> object:
    if kind is datetime:
        return datetime.fromisoformat(raw)
    return kind(raw)
