"""The base of every schema: text with characters it has no place for is refused up front.

Every string loaded (a value, an item of a list, a key or value of a dict), whatever its
field, is refused with a NUL (PostgreSQL cannot store it), a lone surrogate (no encoder
can write it) or another control character; and, unless its field is a `Text` (the few
fields meant to hold several lines, app/schemas/fields.py), with a line break or a tab,
which would break the single-line places such values end up in: email headers, CSV cells,
log lines. Nested schemas check their own fields. New schemas and fields get this by
deriving from `Schema`, as every schema does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import marshmallow
from marshmallow import ValidationError, fields, pre_load, validates_schema

from app.schemas.fields import Text

# C0 and C1 control characters, line and paragraph separators, and surrogates.
_SURROGATES = "\ud800-\udfff"
_NOT_IN_A_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_SURROGATES}]")
# The same, less what multi-line text may hold: tabs and line breaks.
_NOT_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_SURROGATES}]")

_LINE_BREAKS = "\r\n\u2028\u2029"


def _problem(char: str) -> str:
    if char == "\x00":
        return "contains a NUL character"
    if char in _LINE_BREAKS:
        return "must be a single line: contains a line break"
    if char == "\t":
        return "must be a single line: contains a tab"
    if "\ud800" <= char <= "\udfff":
        return "contains a lone surrogate"
    return f"contains a control character (U+{ord(char):04X})"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def _refused_in(field: fields.Field[Any] | None) -> re.Pattern[str]:
    return _NOT_IN_TEXT if isinstance(field, Text) else _NOT_IN_A_LINE


def text_pattern(field: fields.Field[Any]) -> str:
    """What a string of `field` may hold, as an OpenAPI (ECMA-262) pattern: any character
    but those refused above, written as escapes (the document would otherwise carry the
    very characters that no JSON reader should accept). Lone surrogates are left out: no
    text a request carries holds one (app/strict_json.py refuses the escape), and the
    regex engines that generate data from the document cannot read such a range."""
    refused = "".join(
        char if char.isprintable() else f"\\u{ord(char):04x}"
        for char in _refused_in(field).pattern[1:-1].replace(_SURROGATES, "")
    )
    return f"^[^{refused}]*$"


def _checked_by_own_schema(field: fields.Field[Any] | None) -> bool:
    return isinstance(field, fields.Nested) or (
        isinstance(field, fields.List) and isinstance(field.inner, fields.Nested)
    )


class Schema(marshmallow.Schema):
    # A value the schema loads, which the OpenAPI document shows (app/openapi.py): every
    # schema of a request body has one, realistic, and the tests load each.
    EXAMPLE: ClassVar[dict[str, Any] | None] = None
    # A body of several kinds: the schema of each, by the value of its DISCRIMINATOR
    # field. The document shows the body as one of them (`oneOf`); the schema itself
    # still loads it, and the rules it defers to tell the kinds apart.
    VARIANTS: ClassVar[Mapping[str, type[Schema]]] = {}
    DISCRIMINATOR: ClassVar[str | None] = None
    # Fields of which a body sends exactly one (a second factor: a code or a recovery
    # code), checked here; the document shows them as a `oneOf` of their requirements.
    EXACTLY_ONE_OF: ClassVar[tuple[str, ...]] = ()

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not self.EXACTLY_ONE_OF:
            return
        given = [name for name in self.EXACTLY_ONE_OF if data.get(name) is not None]
        named = " or ".join(f"`{name}`" for name in self.EXACTLY_ONE_OF)
        if not given:
            raise ValidationError(f"{named} is required", self.EXACTLY_ONE_OF[0])
        if len(given) > 1:
            raise ValidationError(f"send {named}, not both", given[-1])

    @pre_load
    def _refuse_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        if not hasattr(data, "items"):
            return data  # not an object: the load itself refuses it
        by_key = {field.data_key or name: field for name, field in self.load_fields.items()}
        errors: dict[str, list[str]] = {}
        for key, value in data.items():
            field = by_key.get(key)
            if _checked_by_own_schema(field):
                continue
            refused = _refused_in(field)
            for text in _strings(value):
                found = refused.search(text)
                if found:
                    errors[key] = [_problem(found.group())]
                    break
        if errors:
            raise ValidationError(errors)
        return data
