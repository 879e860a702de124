"""The tenant context's signature: what makes a context one the database accepts.

The database takes a tenant context (app/tenancy/context.py) only when it carries the
HMAC-SHA-256 of its fields under the context key (policies/context_key.sql): a key the
service holds in its settings (TENANT_CONTEXT_KEY) and the database's owner role alone can
read. So code that runs SQL as the application role (an injected statement, a leaked
database password) can set any context it likes and gets none: no tenant's rows, no
writes, no actor of its choosing in the audit trail.

The key is the process's, set once as it starts (`use_key`, from app/services.py), like
the session listeners: every session of the process signs with it. Until then (a test, a
script) it is the development key, which production refuses (Settings.production_problems).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence

from app.config import DEV_TENANT_CONTEXT_KEY

# Separates the fields of a signed context (U+001F, the unit separator); no field may hold it.
FIELD_SEPARATOR = "\x1f"
SIGNATURE_LENGTH = 64  # hex digits of an HMAC-SHA-256
_BLOCK = 64  # SHA-256's block size, which HMAC pads the key to


class UnsignableValue(ValueError):
    """A field of a context holds the separator (or a NUL): it cannot be signed as one
    field. The edges refuse such values (an email, a request id) before they get here."""


class ContextKey:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def pads(self) -> tuple[bytes, bytes]:
        """HMAC's inner and outer pads of the key (RFC 2104), as the database stores
        them to compute the same signature with SHA-256 alone."""
        key = hashlib.sha256(self._key).digest() if len(self._key) > _BLOCK else self._key
        key = key.ljust(_BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


_current = ContextKey(DEV_TENANT_CONTEXT_KEY)


def use_key(secret: str) -> None:
    """Sign with `secret` from now on, in this process."""
    global _current
    _current = ContextKey(secret)


def payload(fields: Iterable[str]) -> str:
    values = list(fields)
    for value in values:
        if FIELD_SEPARATOR in value or "\0" in value:
            raise UnsignableValue(f"a context field holds a separator: {value!r}")
    return FIELD_SEPARATOR.join(values)


def signed(fields: Iterable[str]) -> str:
    """The value of the `tenancy.context` setting that carries `fields` (in the order of
    tenancy.field_names()): their signature, then themselves."""
    text = payload(fields)
    return _current.sign(text) + text


def enter_ticket(
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    request_id: str | None,
    read_only_statuses: Sequence[str],
) -> str:
    """What tells tenancy.enter that the service asks it to resolve this user's context,
    signed over the call's arguments: tenancy.put, which signs each step enter resolves,
    checks it the same way (policies/functions.sql)."""
    return _current.sign(
        payload(
            [
                "enter",
                str(user_id),
                str(organization_id or ""),
                request_id or "",
                ",".join(read_only_statuses),
            ]
        )
    )
