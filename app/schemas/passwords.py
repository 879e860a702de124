from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from app.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.schemas.base import Schema
from app.schemas.fields import EmailAddress

POLICY = (
    f"at least {MIN_LENGTH} characters (Unicode, counted after NFKC normalisation), any"
    " characters, no required mix; refused when easy to guess: a common or breached"
    " password or a slight variation of one, a lone word, a repeat or sequence, or built"
    " on the account's email or name"
)


def new_password(note: str | None = None, **kwargs: Any) -> fields.String:
    """A password being chosen (`note`: what the documentation says first). Only its
    length is bounded here; the policy is checked where the person it is for is known
    (app/auth/passwords.py, `require_acceptable`)."""
    return fields.String(
        load_only=True,
        validate=validate.Length(max=MAX_LENGTH),
        metadata={"description": f"{note}; {POLICY}" if note else POLICY},
        **kwargs,
    )


def current_password() -> fields.String:
    """The account's password as it is now, given to prove who is asking."""
    return fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=MAX_LENGTH)
    )


class PasswordChangeSchema(Schema):
    current_password = current_password()
    new_password = new_password(required=True)


class PasswordSchema(Schema):
    password = current_password()


class PasswordResetRequestSchema(Schema):
    email = EmailAddress(required=True)


class PasswordResetRequestedSchema(Schema):
    message = fields.String()


class PasswordResetSchema(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the token of the reset link, as in the emailed address"},
    )
    new_password = new_password(required=True)
