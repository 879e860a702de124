"""The JSON the API accepts: every refusal names what is wrong; valid JSON reads as the
standard parser reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.strict_json import MAX_DEPTH, InvalidJSON, loads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 10_000 + "]" * 10_000, f"nesting deeper than {MAX_DEPTH}"),
        ('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "nesting deeper than"),
        ("[" + "1" * 5_000 + "]", "number too long"),
        ("[-" + "9" * 31 + "]", "number too long"),
        ("[1." + "0" * 40 + "1]", "number too long"),
        ("[1e400]", "number too large"),
        ("[-1e400]", "number too large"),
        ("[NaN]", "NaN is not a JSON number"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ('{"a": "\\ud800"}', "lone surrogate in a string"),
        ('["x\\udfffy"]', "lone surrogate in a string"),
        ('["\\ude00\\ud83d"]', "lone surrogate in a string"),  # a pair the wrong way round
        ('{"\\ud800": 1}', "lone surrogate in a key"),
        ('{"a": {"\\udbff": 1}}', "lone surrogate in a key"),
        ('{"email": "a", "x": 1, "email": "b"}', "duplicate key 'email'"),
        ('[{"a": 1}, {"b": 1, "b": 2}]', "duplicate key 'b'"),
        ('{"' + "k" * 100 + '": 1, "' + "k" * 100 + '": 2}', "duplicate key 'kkkk"),
        ("hello", "not valid JSON: Expecting value"),
        ('{"a": 1', "not valid JSON"),
        ("", "not valid JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8: byte 0xff at position 7"),
        (b'{"a": "\xed\xa0\x80"}', "not valid UTF-8"),  # a surrogate encoded in UTF-8
        ('{"a": "\ud800"}', "lone surrogate in a string"),  # text already decoded
    ],
)
def test_refusals_say_what_is_wrong(text: str | bytes, expected: str) -> None:
    with pytest.raises(InvalidJSON) as refused:
        loads(text)
    assert expected in str(refused.value)


def test_duplicate_key_message_is_bounded() -> None:
    key = "k" * 10_000
    with pytest.raises(InvalidJSON) as refused:
        loads(f'{{"{key}": 1, "{key}": 2}}')
    assert len(str(refused.value)) < 100


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Acme", "count": 3, "ratio": 0.25, "tags": ["a", "b"], "none": null}',
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        json.dumps(["[" * 50, "{" * 50, '"[' * 50]),  # brackets inside strings
        "[" + ",".join(["[]"] * 200) + "]",
        "[" + "9" * 30 + ", -" + "9" * 30 + ", 1.5e300, -2.5e-300]",
        '["' + "1" * 100 + '"]',  # digits inside a string are text, not a number
        '{"emoji": "\\ud83d\\ude00", "escaped": "\\\\ud800", "nul": "\\u0000"}',
        '"just a string"',
        "42",
    ],
)
def test_valid_json_reads_as_the_standard_parser_reads_it(text: str) -> None:
    expected: Any = json.loads(text)
    assert loads(text) == expected
    assert loads(text.encode()) == expected
