"""Building blocks shared by the REST services: strict input, cursor pages and a CRUD viewset."""

import copy
import re
import uuid
from datetime import UTC
from typing import Any, ClassVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.errors import NotFound
from common.idempotency import Attempt, attempt_for, header_key, response_headers
from common.store import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# An id as the API writes it: hyphenated hex, either case. The one form the schemas call "uuid".
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# What str.strip() removes (Python's whitespace), spelled out: regex engines disagree on \s.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text a person typed: at least one character that is not whitespace, and no NUL anywhere.
TEXT_PATTERN = rf"\A[^\x00]*[^\x00{WHITESPACE}][^\x00]*\Z"
# A cursor is base64url without padding (what encode_cursor makes).
CURSOR_PATTERN = r"\A[A-Za-z0-9_-]+\Z"


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know instead of silently dropping them."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # A serializer's own validation always fails with a dict of field errors.
            field_errors = cast("dict[str, Any]", exc.detail)
            raise serializers.ValidationError({**field_errors, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class OutputSerializer(serializers.Serializer):
    """A read-only serializer for plain objects whose fields are built once per class.

    DRF deep-copies every declared field each time a serializer is created, which costs more than
    rendering one entity. Output fields keep no per-request state, so one set per class serves
    every request and thread; each value still goes through its field's own to_representation,
    so the JSON is exactly what DRF would produce.
    """

    _shared_fields_cache: ClassVar[tuple[tuple[str, serializers.Field], ...]]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        rendered = {}
        for name, field in self._shared_fields():
            value = getattr(instance, name)
            rendered[name] = None if value is None else field.to_representation(value)
        return rendered

    @classmethod
    def _shared_fields(cls) -> tuple[tuple[str, serializers.Field], ...]:
        fields = cls.__dict__.get("_shared_fields_cache")
        if fields is None:
            fields = tuple((name, field) for name, field in cls().fields.items() if not field.write_only)
            for name, field in fields:
                if field.source != name:
                    raise ImproperlyConfigured(
                        f"{cls.__name__}.{name}: output fields read the attribute they are named after"
                    )
            cls._shared_fields_cache = fields
        return fields


class UtcDateTimeField(serializers.DateTimeField):
    """Rendered in UTC, as the default field does with TIME_ZONE = "UTC", without looking up the
    active time zone for every value (a quarter of the CPU of a page of customers)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string written as one: ASCII digits with an optional minus. DRF would
    also read " 5", "+5" (a query string's space), "5.0" and digits of other scripts."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and not re.fullmatch(r"-?[0-9]+", data):
            self.fail("invalid")
        return super().to_internal_value(data)


class PageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=200,
        validators=[RegexValidator(CURSOR_PATTERN, message="This cursor is not valid.")],
        help_text="next_cursor of the previous page, as the server made it; empty: first page",
    )
    limit = QueryIntegerField(
        required=False,
        min_value=1,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Page size; values above {MAX_PAGE_SIZE} are capped to {MAX_PAGE_SIZE}.",
    )

    def to_internal_value(self, data: Any) -> Any:
        # A query string carries "" for `?limit=`; DRF would read that as "absent" and use the default.
        # Names from items(): the DRF stubs type iterating a serializer's fields as yielding Field objects.
        names = [name for name, _ in self.fields.items() if name != "cursor"]
        blank = {name: ["May not be blank."] for name in names if data.get(name) == ""}
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def validate_limit(self, value: int) -> int:
        return min(value, MAX_PAGE_SIZE)


def page_serializer(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The documented shape of one list page of `item` (an object, not the bare array a list view suggests)."""
    page = type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next_cursor": serializers.CharField(allow_null=True),
            "next": serializers.CharField(
                allow_null=True,
                help_text="the next page: PUBLIC_URL + path and query, or path and query alone when "
                "no PUBLIC_URL is configured; null on the last page",
            ),
        },
    )
    return extend_schema_serializer(many=False)(page)


def page_response(request: Request, items: list[Any], next_cursor: str | None, serializer: type) -> Response:
    next_url = None
    if next_cursor:
        # A shallow copy: QueryDict.copy() deep-copies, which costs more than rendering a row.
        # Either copy is mutable, though the stubs type copy.copy() as the immutable original.
        query = cast(QueryDict, copy.copy(request.query_params))
        query["cursor"] = next_cursor
        next_url = f"{settings.PUBLIC_URL}{request.path}?{query.urlencode()}"
    return Response({"results": serializer(items, many=True).data, "next_cursor": next_cursor, "next": next_url})


def parse_entity_id(value: str) -> str:
    """An id in a URL in its stored form (lower case). One that is not a UUID names nothing: 404, like
    any unknown id (the URL patterns let only UUIDs through; this holds for any other caller)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound("Not found.") from None


class EntityViewSet(viewsets.ViewSet):
    """List/create/retrieve/replace/patch/delete over a service module; subclasses name the pieces.

    Views stay thin: validate with a serializer, call the service, serialize what it returns.
    """

    lookup_value_regex = UUID_PATTERN
    output_serializer: ClassVar[type[serializers.Serializer]]
    input_serializer: ClassVar[type[serializers.Serializer]]

    def service_list(self, *, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
        raise NotImplementedError

    def service_get(self, entity_id: str) -> Any:
        raise NotImplementedError

    def service_create(self, data: dict[str, Any], *, idempotency: Attempt | None) -> Any:
        """The entity created, or the one an earlier request with the same Idempotency-Key created."""
        raise NotImplementedError

    def service_update(self, entity_id: str, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def service_delete(self, entity_id: str) -> None:
        raise NotImplementedError

    def list(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items, next_cursor = self.service_list(
            cursor=query.validated_data.get("cursor") or None, limit=query.validated_data["limit"]
        )
        return page_response(request, items, next_cursor, self.output_serializer)

    def create(self, request: Request) -> Response:
        key = header_key(request)
        payload = self.input_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = self.service_create(payload.validated_data, idempotency=attempt_for(key, payload.validated_data))
        return Response(
            self.output_serializer(created.entity).data,
            status=status.HTTP_201_CREATED,
            headers=response_headers(created),
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.output_serializer(self.service_get(parse_entity_id(pk))).data)

    def update(self, request: Request, pk: str) -> Response:
        return self._change(request, pk, partial=False)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self._change(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        self.service_delete(parse_entity_id(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, pk: str, *, partial: bool) -> Response:
        entity_id = parse_entity_id(pk)
        payload = self.input_serializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        entity = self.service_update(entity_id, payload.validated_data)
        return Response(self.output_serializer(entity).data)


class _JsonTypeOnly:
    """Accept only values that arrived as the given JSON type, before the field's own coercion."""

    json_types: tuple[type, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if (isinstance(data, bool) and bool not in self.json_types) or not isinstance(data, self.json_types):
            self.fail("invalid")  # type: ignore[attr-defined]
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictIntegerField(_JsonTypeOnly, serializers.IntegerField):
    """Only a JSON integer: no strings, floats ("1.0" included) or booleans."""

    json_types = (int,)


class StrictCharField(_JsonTypeOnly, serializers.CharField):
    """Only a JSON string: a number or a boolean where text belongs is a client bug, not text.

    Surrounding whitespace is removed, and what remains must be TEXT_PATTERN (the schema's
    pattern). max_length counts what the client sent, before trimming, as the schema's
    maxLength does.
    """

    json_types = (str,)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # TEXT_PATTERN refuses NUL itself (after the blank check), in the form the schema shows.
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]
        self.validators.append(RegexValidator(TEXT_PATTERN, message="Null characters are not allowed."))

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictUUIDField(_JsonTypeOnly, serializers.UUIDField):
    """Only a UUID written as a hyphenated string (DRF would also take an integer, bare hex, braces
    or a URN)."""

    json_types = (str,)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and not re.fullmatch(UUID_PATTERN, data):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictDecimalField(_JsonTypeOnly, serializers.DecimalField):
    """A decimal written as a JSON string that matches `pattern`, which is what the schema states.

    DRF's own checks run first, so a value out of range or with too many places gets their
    messages; the pattern then refuses what DRF would still read (exponents, signs, leading zeros,
    surrounding whitespace). The pattern must not allow anything DRF's checks refuse.
    """

    json_types = (str,)
    default_error_messages = {"format": "Write it as plain digits with an optional . and up to 2 decimals."}

    def __init__(self, *, pattern: str, **kwargs: Any) -> None:
        super().__init__(coerce_to_string=True, **kwargs)
        self.pattern = pattern

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)
        if isinstance(data, str) and not re.fullmatch(self.pattern, data):
            self.fail("format")
        return value
