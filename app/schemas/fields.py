"""Reusable fields that validate and normalise contact data."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields


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
