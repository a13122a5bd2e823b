"""Idempotency-Key on the create POSTs of every service: a client that sends a POST again (its answer
was lost) gets the entity the first request created, never a second one.

The key is recorded as `<kind>:idempotency:{sha256(key)}` -> "<entity id> <request fingerprint>"
for 24 hours, set in the same MULTI/EXEC as the entity (common.store.Claim), so two racing
requests with one key create one entity. The same key with a different request is refused (422).
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from common.errors import Conflict, FieldInvalid
from common.store import Claim, EntityStore

T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 200
# Visible ASCII, no spaces: a UUID, a hash or an order number fits, and the key reads the same in
# every log and proxy.
KEY_PATTERN = re.compile(rf"[!-~]{{1,{MAX_KEY_LENGTH}}}")


@dataclass(frozen=True)
class Attempt:
    """A create request sent under an Idempotency-Key: the key and the fingerprint of its validated body."""

    key: str
    fingerprint: str

    def claim(self, kind: str, entity_id: str) -> Claim:
        """What the store sets with the entity, so a later request with this key finds it."""
        return Claim(key=claim_key(kind, self.key), value=f"{entity_id} {self.fingerprint}", ttl_seconds=TTL_SECONDS)


@dataclass(frozen=True)
class Recorded:
    """What an earlier request with the same key left: the entity it created and its fingerprint."""

    entity_id: str
    fingerprint: str

    @classmethod
    def parse(cls, value: str) -> "Recorded":
        entity_id, fingerprint = value.split(" ", 1)
        return cls(entity_id, fingerprint)


@dataclass(frozen=True)
class Created(Generic[T]):
    """The entity a create answers with; replayed when an earlier request with the key created it."""

    entity: T
    replayed: bool = False


def insert_once(
    entities: EntityStore,
    entity_id: str,
    fields: Mapping[str, str],
    *,
    score: float,
    attempt: Attempt | None,
    extra_indexes: Sequence[str] = (),
) -> Recorded | None:
    """Write an entity and its index entries in one transaction, with its Idempotency-Key if any.

    With the key already recorded (by an earlier or a concurrent request), nothing is written and
    what that request recorded is returned; None means this one was written.
    """
    claim = attempt.claim(entities.kind, entity_id) if attempt else None
    holder = entities.insert(entity_id, fields, score=score, extra_indexes=extra_indexes, claim=claim)
    return Recorded.parse(holder) if holder else None


def claim_key(kind: str, key: str) -> str:
    return f"{kind}:idempotency:{hashlib.sha256(key.encode()).hexdigest()}"


def header_key(request: Request) -> str | None:
    """The request's Idempotency-Key, None without one; FieldInvalid (400) when it is malformed."""
    key = request.headers.get(HEADER)
    if key is not None and not KEY_PATTERN.fullmatch(key):
        raise FieldInvalid(HEADER, f"Must be 1 to {MAX_KEY_LENGTH} visible ASCII characters, no spaces.")
    return key


def fingerprint(values: Iterable[object]) -> str:
    """A digest of a validated body's values, in its serializer's field order.

    Values are joined with "|" after escaping "\\" and "|", so two different bodies never join to
    the same text; for ids and numbers (an invoice's body) the text is the values as they are.
    """
    escaped = (str(value).replace("\\", "\\\\").replace("|", "\\|") for value in values)
    return hashlib.sha256("|".join(escaped).encode()).hexdigest()[:32]


def attempt_for(key: str | None, validated: Mapping[str, Any]) -> Attempt | None:
    """An Idempotency-Key (from header_key) with the fingerprint of the validated body; None without a key."""
    return Attempt(key=key, fingerprint=fingerprint(validated.values())) if key is not None else None


def replay(recorded: Recorded, attempt: Attempt | None, load: Callable[[str], T], noun: str) -> Created[T]:
    """The entity an earlier request with this key created; Conflict (422) when that request differed."""
    if attempt is None or recorded.fingerprint != attempt.fingerprint:
        raise Conflict(f"This Idempotency-Key was already used for a different {noun} request.")
    return Created(load(recorded.entity_id), replayed=True)


def response_headers(created: Created[Any]) -> dict[str, str]:
    return {REPLAYED_HEADER: "true"} if created.replayed else {}


def create_schema(request: type, response: type, noun: str) -> Callable[[Any], Any]:
    """extend_schema of a create operation: the Idempotency-Key it reads and what a replay answers."""
    key_parameter = OpenApiParameter(
        HEADER,
        {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$", "maxLength": MAX_KEY_LENGTH},
        OpenApiParameter.HEADER,
        description=f"Retrying a POST with the same key returns the first result instead of a second {noun}; "
        "the same key with a different request is refused with 422.",
    )
    replayed_parameter = OpenApiParameter(
        REPLAYED_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[201],
        enum=["true"],
        description=f"Present when this is the {noun} an earlier request with the same Idempotency-Key created.",
    )
    return extend_schema(
        request=request,
        parameters=[key_parameter, replayed_parameter],
        responses={
            201: response,
            422: OpenApiResponse(description=f"Idempotency-Key already used for a different {noun} request"),
        },
    )
