"""The JSON parser of every API: DRF's, with pathological nesting turned into a 400."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        # A few kilobytes of "[[[[..." exhaust the decoder's recursion limit; DRF only catches
        # ValueError, so without this the client gets a 500.
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
