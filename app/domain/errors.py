"""Why a rule of the domain refused: one class per kind of refusal.

The domain says what went wrong, never how to answer it; `app/errors.py` maps each
class to an HTTP status, in one table.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused; `field` names the offending input, if one did.

    Raise one of the subclasses below: the kind of refusal decides the answer.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """What was asked for does not exist, or is out of the caller's reach (alike)."""


class Invalid(DomainError):
    """The input breaks a rule whatever the state of the data: fix the input."""


class WrongSecret(Invalid):
    """A password the caller must know is wrong: a possible guess, which the API counts
    toward the account's sign-in delay."""


class Conflict(DomainError):
    """The input is well formed but the current state of the data refuses it."""


class Forbidden(DomainError):
    """The caller may not do this, though they may see what they act on."""


class Gone(DomainError):
    """It existed but can no longer be used (an expired or revoked invitation)."""


class TooLarge(DomainError):
    """The input is larger than the limit."""


class Unavailable(DomainError):
    """A service the rule depends on cannot answer now; the same request may succeed later."""
