"""Reusable fields: free text, money, contact data and a date of birth, validated and
normalised."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, ClassVar, cast

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import EMAIL_MAX_LENGTH
from marshmallow import ValidationError, fields, validate
from sqlalchemy import ColumnElement, Numeric

from app import clock
from app.domain.dea import is_valid_dea, normalize_dea
from app.domain.reference import PLACE_OF_SERVICE, is_valid_npi


class Text(fields.String):
    """Free text that may run over several lines: the one kind of string field that
    accepts line breaks and tabs (every other is a single line, app/schemas/base.py)."""


CENTS = Decimal("0.01")


class Money(fields.Decimal):
    """An amount of money, as a decimal string both ways ("125.50"): many JSON parsers
    read a number as a binary fraction, in which a client's 0.10 is not 0.10, so a
    number is refused rather than guessed at. Read with at most the digits before the
    point that its `column` holds, and two after (a third decimal place is the client's
    mistake, refused, never rounded away; no sign: amounts are never negative); written
    with two. `pattern` is the rule as the API document states it too (app/openapi.py).
    A sum (a report's revenue) is only written, and stored in no column of its own."""

    def __init__(self, *, column: ColumnElement[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(as_string=True, **kwargs)
        whole_digits = None
        if column is not None:
            stored = cast(Numeric[Decimal], column.type)
            whole_digits = (stored.precision or 0) - (stored.scale or 0)
        whole = f"{{1,{whole_digits}}}" if whole_digits else "+"
        self.pattern = rf"^[0-9]{whole}(\.[0-9]{{1,2}})?$"
        most = f"at most {whole_digits}" if whole_digits else "any"
        self._rule = f'a decimal string with {most} digits before the point and 2 after ("125.50")'

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            raise ValidationError(f"must be {self._rule}")
        return Decimal(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value).quantize(CENTS))


class StrictBoolean(fields.Boolean):
    """A JSON body's boolean: `true` or `false`, nothing taken for them. marshmallow would
    read 0, 1, "yes" or "on" as one, which a JSON client sending them has got wrong. (A
    query string's booleans are text, and keep marshmallow's reading.)"""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Constrained(fields.String):
    """A single-line string with a rule of its own, which the field both checks and
    states, so that the OpenAPI document (app/openapi.py) shows the very rule the API
    applies:

    - PATTERN, the shape of every value as sent (the document's `pattern`), checked
      before anything else the field does. It is written to mean the same in Python and
      in ECMA-262, the dialect of OpenAPI: anchored with ^ and $, character classes,
      `[0-9]` and never `\\d` (which takes any script's digits in Python);
    - MAX_LENGTH, the most characters a value may have as sent (`maxLength`);
    - FORMAT, the OpenAPI `format` the values have;
    - RULE, in words, whatever the field checks beyond these (a check digit, a number
      valid in its country), added to the property's description.
    """

    PATTERN: ClassVar[str | None] = None
    # What a value that does not match PATTERN is told.
    MISMATCH: ClassVar[str] = "not in the expected form"
    MAX_LENGTH: ClassVar[int | None] = None
    FORMAT: ClassVar[str | None] = None
    RULE: ClassVar[str | None] = None

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw: str = super()._deserialize(value, attr, data, **kwargs)
        if self.MAX_LENGTH is not None and len(raw) > self.MAX_LENGTH:
            raise ValidationError(f"at most {self.MAX_LENGTH} characters")
        # fullmatch: an ECMA-262 `$` ends the value, where Python's also matches before
        # a final line break.
        if self.PATTERN is not None and re.fullmatch(self.PATTERN, raw) is None:
            raise ValidationError(self.MISMATCH)
        return raw


class Phone(Constrained):
    """A phone number, stored in E.164 (`+15551234567`); US numbers may omit +1."""

    # Room for the shortest valid numbers (+431110, in Austria) and for the longest
    # dialled from the US (011 and up to 19 digits), with separators.
    PATTERN = r"^\+?[0-9 ().-]{6,32}$"
    MISMATCH = "not a phone number: an optional +, then digits, spaces, ().-"
    RULE = (
        "a number valid in its country's numbering plan (libphonenumber); without + and"
        " a country code, a US number; returned in E.164, as +14155552671"
    )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException as exc:
            raise ValidationError("not a phone number") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class EmailAddress(Constrained):
    """An email address, checked for syntax (no DNS lookup) and normalised."""

    FORMAT = "email"
    # email_validator's limit, which it also applies to the address as sent.
    MAX_LENGTH = EMAIL_MAX_LENGTH
    RULE = "checked for syntax (not for delivery) and normalised"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(str(exc)) from exc


class TaxId(Constrained):
    """A US employer identification number, stored as `12-3456789`."""

    PATTERN = r"^[0-9]{2}-?[0-9]{7}$"
    MISMATCH = "must be an EIN: 9 digits, as 12-3456789"
    RULE = "returned as 12-3456789"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        digits = super()._deserialize(value, attr, data, **kwargs).replace("-", "")
        return f"{digits[:2]}-{digits[2:]}"


class Npi(Constrained):
    """A National Provider Identifier: 10 digits, first 1 or 2, valid check digit."""

    PATTERN = r"^[12][0-9]{9}$"
    MISMATCH = "not a valid NPI (10 digits with a valid check digit)"
    RULE = (
        "the tenth digit is the Luhn check digit of 80840 followed by the first nine"
        " (CMS), as in 1234567893"
    )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not is_valid_npi(raw):
            raise ValidationError(self.MISMATCH)
        return raw


class DateOfBirth(fields.Date):
    """A person's date of birth: a real date (ISO 8601), before today, not before 1900
    (exclusion screening compares it with the lists', app/domain/screening.py)."""

    EARLIEST = dt.date(1900, 1, 1)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        born = super()._deserialize(value, attr, data, **kwargs)
        if not self.EARLIEST <= born < clock.today():
            raise ValidationError("a date of birth is in the past, not before 1900-01-01")
        return born


class ZipCode(Constrained):
    """A US ZIP code, 5 or 9 digits, stored as `12345` or `12345-6789`."""

    PATTERN = r"^[0-9]{5}(-?[0-9]{4})?$"
    MISMATCH = "must be a ZIP code of 5 or 9 digits"
    RULE = "returned as 12345 or 12345-6789"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        digits = super()._deserialize(value, attr, data, **kwargs).replace("-", "")
        return f"{digits[:5]}-{digits[5:]}" if digits[5:] else digits


class StateCode(Constrained):
    """A two-letter US state or territory code, upper-cased. Whether it is a real one
    is checked against the database's list when the record is written."""

    PATTERN = r"^[A-Za-z]{2}$"
    MISMATCH = "must be a two-letter state code"
    RULE = "one of the US states and territories the service lists (us_states); upper-cased"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


class DeaNumber(Constrained):
    """A DEA registration number (app/domain/dea.py), stored in capitals."""

    PATTERN = r"^[A-Za-z][A-Za-z9][0-9]{7}$"
    MISMATCH = "not a valid DEA registration number: 2 letters (the second may be 9), 7 digits"
    RULE = (
        "the last digit is the check digit: (d1 + d3 + d5) + 2 * (d2 + d4 + d6) ends in"
        " it, as in AP5836727; upper-cased"
    )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        number = normalize_dea(super()._deserialize(value, attr, data, **kwargs))
        if not is_valid_dea(number):
            raise ValidationError("not a valid DEA registration number (check digit)")
        return number


def place_of_service(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.OneOf(sorted(PLACE_OF_SERVICE)),
        metadata={"description": "CMS place-of-service code"},
        **kwargs,
    )
