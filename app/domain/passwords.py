"""Passwords: changing one, and resetting a forgotten one by email.

Every new password meets the policy of app/auth/passwords.py (`require_acceptable`),
checked against the person's own email and name. Setting a password, either way,
revokes the user's password reset links still open. Ending the user's login sessions
(kept in Redis) is left to the caller, app/auth/tokens.py's.

Reset: a request names an email. When an active account has it, a link goes to that
address through the outbox: a random token (256 bits), stored only as its SHA-256 and
sealed in the outbox until sent, expiring within the hour; the account's earlier open
links are revoked. When none has it, nothing happens; the caller is told the same either
way, so `request_reset` returns nothing. Using the link runs without a signed-in user:
the token's hash, set as the transaction's context, is the capability the policies
accept for reading and closing that one link (policies/password_resets.sql); from it
the transaction acts as the link's user, to set their password.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.auth.passwords import hash_password, require_acceptable
from app.domain import accounts, outbox
from app.domain.errors import Gone, NotFound
from app.domain.invitations import token_hash
from app.models import PasswordReset, User
from app.models.enums import MessageKind, PasswordResetStatus
from app.tenancy.context import SESSION_KEY, TenantContext, system_context, use_context

# Why a link that opens nothing any more opens nothing, as its holder is told (410).
CLOSED = {
    PasswordResetStatus.USED: "this password reset link has already been used",
    PasswordResetStatus.REVOKED: "this password reset link was replaced by a newer one, or the"
    " password was changed since",
    PasswordResetStatus.EXPIRED: "this password reset link has expired",
}
UNKNOWN = "this password reset link is not valid"
DEACTIVATED = "the account of this password reset link is deactivated"


# The worker's job that issues a link (workers/jobs.py), named by its path: the API
# queues it without importing the workers, and the workers run it in process.
# A job, not a secret (bandit B105).
ISSUE_PASSWORD_RESET = "workers.jobs.issue_password_reset"  # nosec B105


def change_password(
    session: Session,
    context: TenantContext,
    current_password: str,
    new_password: str,
    now: dt.datetime | None = None,
) -> User:
    """The signed-in user changes their password, proving they know the current one."""
    user = session.get(User, context.user_id)
    assert user is not None, "an authenticated context names a visible user"
    accounts.prove_password(user, current_password, field="current_password")
    require_acceptable(new_password, email=user.email, name=user.name, field="new_password")
    _store(session, user, new_password, now or clock.now())
    return user


def request_reset(
    session: Session,
    email: str,
    lifetime: dt.timedelta,
    base_url: str,
    sealer: outbox.Sealer,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Email a reset link to the active account with this email, if there is one."""
    now = now or clock.now()
    # Found as a sign-in finds it: the email given opens that one account's row.
    use_context(session, TenantContext(login_email=email, request_id=request_id))
    user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None or not user.is_active:
        return
    token = secrets.token_urlsafe(32)
    # The caller is nobody yet: the service issues the link on its own account, and
    # nothing read or written here goes back to the caller.
    with system_context(session):
        # Requests for one account take turns, so that one link is left open.
        session.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))
        _revoke_open_links(session, user, now)
        reset = PasswordReset(
            user_id=user.id, token_hash=token_hash(token), expires_at=now + lifetime
        )
        session.add(reset)
        session.flush()
        outbox.add(
            session,
            kind=MessageKind.PASSWORD_RESET,
            key=f"password-reset:{reset.id}",
            organization_id=None,
            recipient_email=user.email,
            recipient_user_id=user.id,
            subject="Reset your MSC password",
            template="password_reset",
            payload={
                "name": user.name,
                "expires_in_minutes": int(lifetime.total_seconds() // 60),
            },
            # The reset page (app/blueprints/pages.py), which a browser opens.
            sealed_payload=sealer.seal(
                {"reset_url": f"{base_url.rstrip('/')}/password-reset/{token}"}
            ),
        )


def find_reset(
    session: Session, token: str, request_id: str | None = None, *, lock: bool = False
) -> PasswordReset | None:
    """The link this token opens (in any state), or None for a wrong token. With `lock`,
    the row is held until the transaction ends, and a caller that waited for it reads it
    as the holder left it."""
    use_context(
        session, TenantContext(password_reset_token_hash=token_hash(token), request_id=request_id)
    )
    query = select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def account_of(session: Session, reset: PasswordReset) -> User | None:
    """The user of a link found by its token; from here on the transaction acts as them,
    as a sign-in would (their own row, and their own links)."""
    current: TenantContext = session.info.get(SESSION_KEY) or TenantContext()
    use_context(session, replace(current, user_id=reset.user_id))
    return session.get(User, reset.user_id)


def reset_password(
    session: Session,
    token: str,
    new_password: str,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Set a new password with a reset link, which closes it. Single use: of concurrent
    uses, the first to lock the link uses it, and the others, waiting on that lock, then
    find it used (Gone). A link that opens nothing changes nothing."""
    now = now or clock.now()
    reset = find_reset(session, token, request_id, lock=True)
    if reset is None:
        raise NotFound(UNKNOWN, field="token")
    state = reset.status_at(now)
    if state is not PasswordResetStatus.PENDING:
        raise Gone(CLOSED[state], field="token")
    user = account_of(session, reset)
    if user is None or not user.is_active:
        raise Gone(DEACTIVATED, field="token")
    require_acceptable(new_password, email=user.email, name=user.name, field="new_password")
    reset.used_at = now
    session.flush()
    _store(session, user, new_password, now)
    return user


def _store(session: Session, user: User, password: str, now: dt.datetime) -> None:
    """Set the (accepted) password; the user's open reset links stop working."""
    user.password_hash = hash_password(password)
    session.flush()
    _revoke_open_links(session, user, now)


def _revoke_open_links(session: Session, user: User, now: dt.datetime) -> None:
    session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.user_id == user.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
