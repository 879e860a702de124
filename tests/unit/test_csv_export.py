"""CSV cells a spreadsheet would run are written as text; everything else as it is."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from app.csv_export import cell, line


@pytest.mark.parametrize(
    "text",
    ["=1+2", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x")'],
)
def test_text_a_spreadsheet_would_run_is_prefixed(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["Tenant A", "a=b", "", " =1", None, 12, -3, -2.5, Decimal("-1.50")]
)
def test_everything_else_is_left_as_it_is(value: object) -> None:
    assert cell(value) is value


def test_a_line_reads_back_as_its_safe_cells() -> None:
    written = line(["=cmd", 'say "hi", twice', -4, None])
    assert written.endswith("\r\n")
    assert next(csv.reader(io.StringIO(written))) == ["'=cmd", 'say "hi", twice', "-4", ""]
