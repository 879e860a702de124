"""JSON as the API accepts it: UTF-8 text that every later step can hold safely.

The standard parser takes more than the rest of the service can bear: nesting deep
enough to exhaust the stack, integers too long for `int()`, `NaN` and `Infinity`
(not JSON at all), escapes for lone surrogates that no encoder can write back (nor
PostgreSQL store), and duplicate keys, of which it silently keeps the last. `loads`
refuses each of them with a message saying which, before any of it reaches a schema.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
MAX_DIGITS = 30

# The checks made before parsing look at the text between the strings.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
# Decoded UTF-8 holds no surrogates: only a \uD800-\uDFFF escape can make one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# How much of an offending key a message repeats.
_SHOWN = 40


class InvalidJSON(ValueError):
    """The text is not JSON the API accepts; the message says what is wrong with it."""


def loads(data: str | bytes) -> Any:
    """The value `data` holds, or InvalidJSON saying why it is refused."""
    text = _decoded(data)
    _check_outside_strings(text)
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_float=_float, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text):
        _check_surrogates(value)
    return value


def _decoded(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJSON(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at position {exc.start}"
        ) from None


def _check_outside_strings(text: str) -> None:
    # Before parsing, at the speed of the regular expressions: the parser recurses once
    # per level, and `int()` refuses (slowly) integers past a few thousand digits.
    if text.count("[") + text.count("{") <= MAX_DEPTH and not _LONG_NUMBER.search(text):
        return
    outside = _STRINGS.sub("", text)
    if _LONG_NUMBER.search(outside):
        raise InvalidJSON(f"number too long: more than {MAX_DIGITS} digits")
    brackets = _NOT_BRACKETS.sub("", outside)
    if max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH:
        raise InvalidJSON(f"nesting deeper than {MAX_DEPTH}")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        counts = Counter(key for key, _ in pairs)
        key = next(key for key, count in counts.items() if count > 1)
        shown = key if len(key) <= _SHOWN else key[:_SHOWN] + "..."
        raise InvalidJSON(f"duplicate key {shown!r}")
    return found


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise InvalidJSON("number too large: beyond the range of a double")
    return value


def _constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _check_surrogates(value: Any) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidJSON("lone surrogate in a string")
        elif isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                raise InvalidJSON("lone surrogate in a key")
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
