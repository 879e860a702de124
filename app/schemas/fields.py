"""Reusable fields: free text, money, and contact data validated and normalised."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, cast

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields, validate
from sqlalchemy import ColumnElement, Numeric

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


class Phone(fields.String):
    """A phone number, stored in E.164 (`+15551234567`); US numbers may omit +1."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException as exc:
            raise ValidationError("not a phone number") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValidationError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class EmailAddress(fields.String):
    """An email address, checked for syntax (no DNS lookup) and normalised."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(str(exc)) from exc


_EIN = re.compile(r"^(\d{2})-?(\d{7})$")


class TaxId(fields.String):
    """A US employer identification number, stored as `12-3456789`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs).strip()
        match = _EIN.match(raw)
        if not match:
            raise ValidationError("must be an EIN: 9 digits, as 12-3456789")
        return f"{match.group(1)}-{match.group(2)}"


class Npi(fields.String):
    """A National Provider Identifier: 10 digits, first 1 or 2, valid check digit."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs).strip()
        if not is_valid_npi(raw):
            raise ValidationError("not a valid NPI (10 digits with a valid check digit)")
        return raw


_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")


class ZipCode(fields.String):
    """A US ZIP code, 5 or 9 digits, stored as `12345` or `12345-6789`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs).strip()
        match = _ZIP.match(raw)
        if not match:
            raise ValidationError("must be a ZIP code of 5 or 9 digits")
        return f"{match.group(1)}-{match.group(2)}" if match.group(2) else match.group(1)


class StateCode(fields.String):
    """A two-letter US state or territory code, upper-cased. Whether it is a real one
    is checked against the database's list when the record is written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(r"^[A-Za-z]{2}$"), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


def place_of_service(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.OneOf(sorted(PLACE_OF_SERVICE)),
        metadata={"description": "CMS place-of-service code"},
        **kwargs,
    )
