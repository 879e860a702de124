from __future__ import annotations

from typing import Any, ClassVar

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


# Passwords and a link's token for the examples of the request bodies: made up, no
# account's (bandit B105).
EXAMPLE_PASSWORD = "harbor lantern quilt 58"  # nosec B105
EXAMPLE_NEW_PASSWORD = "violet-harbor-71-kettle"  # nosec B105
_EXAMPLE_RESET_TOKEN = "jbhgreG1bi_HKlhjlq08POO6d5etai5S3Dgu4WHuqPA"  # nosec B105


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
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "current_password": EXAMPLE_PASSWORD,
        "new_password": EXAMPLE_NEW_PASSWORD,
    }

    current_password = current_password()
    new_password = new_password(required=True)


class PasswordSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"password": EXAMPLE_PASSWORD}

    password = current_password()


class PasswordResetRequestSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"email": "ada.lovelace@lakeside-health.example.com"}

    email = EmailAddress(required=True)


class PasswordResetRequestedSchema(Schema):
    message = fields.String()


class PasswordResetSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "token": _EXAMPLE_RESET_TOKEN,
        "new_password": EXAMPLE_NEW_PASSWORD,
    }

    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the token of the reset link, as in the emailed address"},
    )
    new_password = new_password(required=True)
