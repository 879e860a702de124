"""CSV the service hands out (reports, the audit trail), safe to open in a spreadsheet.

Excel, LibreOffice and Google Sheets take a cell that begins with `=`, `+`, `-` or `@`
for a formula, and run it (a link that sends the sheet elsewhere, a command): text that
came from users, such as an organization's name or an audited change, would run on the
reader's computer. Such text is written with an apostrophe in front, which spreadsheets
show as text (OWASP, "CSV Injection"); so is text beginning with a tab or a carriage
return, which can hide such a start. Numbers are written as they are: a negative number
is no formula, and a prefixed one would no longer be a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` as a CSV cell: text that a spreadsheet would run, prefixed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def line(values: Iterable[Any]) -> str:
    """One CSV record (RFC 4180 quoting, CRLF-terminated) of `values`, each a safe cell:
    a file can be streamed a record at a time."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell(value) for value in values])
    return buffer.getvalue()
