"""The tenant context: who is asking, for which organization, reaching which tenants.

It travels into PostgreSQL as one transaction-local setting, `tenancy.context`, read by
the policies in policies/ through tenancy.fields(). It is applied when a session begins a
transaction, so no query can run without it, and it vanishes when the transaction ends,
so a pooled connection never carries one request's tenant into the next. It is signed
(app/tenancy/signing.py): the database takes no context the service did not make.

`SET LOCAL`, not `set_config(..., true)`: on a Citus cluster only a SET command reaches
the worker nodes that hold the tenants' rows, and only once
`citus.propagate_set_commands` is 'local' in the same transaction (on plain PostgreSQL
that setting is an unused name and costs nothing). Both are set by tenancy.adopt, called
with the signed context as a bind parameter: one round trip, and what other sessions of
the role see of the statement (pg_stat_activity) holds no context they could replay.
tenancy.adopt checks the signature there and then, and has the database hold the
context's digest, by which the policies' readers recognise it for the rest of the
transaction (policies/context_key.sql).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, text, true
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session, SessionTransaction

from app.models.audit_event import REQUEST_ID_LENGTH
from app.tenancy import signing

log = logging.getLogger(__name__)

SESSION_KEY = "tenant_context"

# Makes a signed context (signed_context) the transaction's (module docstring).
ADOPT = "SELECT tenancy.adopt(%s)"


@dataclass(frozen=True)
class PresentedInvitation:
    """The invitation whose token is presented, as the application found it open (under
    its lock) while accepting it: what the acceptance may write (policies/functions.sql,
    the invitation_admits_* predicates)."""

    organization_id: uuid.UUID
    role: str
    email: str
    facility_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class TenantContext:
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    role: str | None = None
    organization_ids: tuple[uuid.UUID, ...] = ()
    # For an office manager: the facilities they manage, the limit of their reach.
    facility_ids: tuple[uuid.UUID, ...] = ()
    # The facilities of the user's own assignments at every organization (any status),
    # and of their active ones, where they may place orders.
    assigned_facility_ids: tuple[uuid.UUID, ...] = ()
    working_facility_ids: tuple[uuid.UUID, ...] = ()
    # For an office manager: the people assigned to the facilities they manage.
    managed_member_ids: tuple[uuid.UUID, ...] = ()
    # The organizations the user belongs to (users.organization_ids): where they may
    # switch to.
    member_organization_ids: tuple[uuid.UUID, ...] = ()
    is_msc_admin: bool = False
    login_email: str | None = None
    # Set only while looking up or accepting an invitation: the hash of the token
    # presented; and while accepting it, the invitation itself.
    invitation_token_hash: str | None = None
    presented_invitation: PresentedInvitation | None = None
    # Set once an invitation's token has found it: the organization it invites to, which
    # the token holder sees (whatever the invitation's status).
    invited_organization_id: uuid.UUID | None = None
    # Set only while a password reset link is used: the hash of its token.
    password_reset_token_hash: str | None = None
    request_id: str | None = None
    # Not a database setting: organizations in scope that are suspended or inactive,
    # whose rows this context may read but not write (see app/tenancy/read_only.py).
    read_only_organization_ids: tuple[uuid.UUID, ...] = ()

    @classmethod
    def system(cls, label: str) -> TenantContext:
        """The service acting on its own (a job, a seed): MSC reach through the
        policies' MSC-admin clause, no user, and `label` as the request id that names it
        in the audit trail."""
        return cls(is_msc_admin=True, request_id=label[:REQUEST_ID_LENGTH])

    def settings(self) -> dict[str, str]:
        """The context's fields, in the order of tenancy.field_names() (policies/
        functions.sql). Every field is written on every apply, unset ones as '', so
        nothing from an earlier statement of the same transaction survives a narrower
        context."""
        invitation = self.presented_invitation
        return {
            "user_id": str(self.user_id or ""),
            "organization_id": str(self.organization_id or ""),
            "role": self.role or "",
            "organization_ids": _ids(self.organization_ids),
            "facility_ids": _ids(self.facility_ids),
            "assigned_facility_ids": _ids(self.assigned_facility_ids),
            "working_facility_ids": _ids(self.working_facility_ids),
            "managed_member_ids": _ids(self.managed_member_ids),
            "member_organization_ids": _ids(self.member_organization_ids),
            "is_msc_admin": "true" if self.is_msc_admin else "",
            "login_email": self.login_email or "",
            "invitation_token_hash": self.invitation_token_hash or "",
            "invitation_organization_id": str(invitation.organization_id) if invitation else "",
            "invitation_role": invitation.role if invitation else "",
            "invitation_email": invitation.email if invitation else "",
            "invitation_facility_ids": _ids(invitation.facility_ids) if invitation else "",
            "invited_organization_id": str(self.invited_organization_id or ""),
            "password_reset_token_hash": self.password_reset_token_hash or "",
            "request_id": self.request_id or "",
        }

    def reaches(self, organization_id: uuid.UUID) -> bool:
        return self.is_msc_admin or organization_id in self.organization_ids


def _ids(ids: tuple[uuid.UUID, ...]) -> str:
    """A set of ids as its setting holds it (tenancy.ids reads it back)."""
    return ",".join(str(i) for i in ids)


# What an empty context writes is every field the policies read.
FIELD_NAMES = tuple(TenantContext().settings())


def signed_context(context: TenantContext) -> str:
    """The value of the `tenancy.context` setting that carries `context`."""
    return signing.signed(context.settings().values())


def in_scope(
    column: InstrumentedAttribute[uuid.UUID] | InstrumentedAttribute[uuid.UUID | None],
    context: TenantContext,
) -> ColumnElement[bool]:
    """The explicit filter lists add on top of the policies: rows of the organizations
    the request acts for. The policies also show a user what is theirs elsewhere (their
    memberships, their own assignments' facilities); a list of the active organization's
    data must not. It also gives the planner the tenant key."""
    if context.is_msc_admin:
        return true()
    return column.in_(context.organization_ids)


def apply(connection: Connection, context: TenantContext) -> None:
    connection.exec_driver_sql(ADOPT, (signed_context(context),))


class ContextKeyMismatch(RuntimeError):
    """The database checks contexts with another key than this process signs with."""


def verify_context_key(connection: Connection) -> None:
    """Refuse a database that would take none of this process's contexts: one migrated
    with another TENANT_CONTEXT_KEY than the process's own (every request would see
    nothing). A database not migrated yet has no key to compare."""
    try:
        if connection.execute(text("SELECT to_regclass('tenancy.verified_fields')")).scalar():
            apply(connection, TenantContext())
            verified = connection.execute(text("SELECT count(*) FROM tenancy.verified_fields"))
            if verified.scalar() != 1:
                raise ContextKeyMismatch(
                    "the database checks tenant contexts with another key: give the "
                    "service and the migrations the same TENANT_CONTEXT_KEY"
                )
    finally:
        connection.rollback()


def check_context_key(engine: Engine) -> None:
    """verify_context_key as a process starts, said in the log rather than refused: the
    migration command starts a process too, and it is what writes a new key (readiness
    answers 503 until the keys agree). A database not reachable yet cannot be asked
    (readiness asks again)."""
    try:
        with engine.connect() as connection:
            verify_context_key(connection)
    except ContextKeyMismatch as exc:
        log.error("%s; until then every request sees no data", exc)
    except OperationalError as exc:
        log.warning("context key not checked, the database is not reachable: %s", exc.orig)


def use_context(session: Session, context: TenantContext) -> None:
    """Make `context` the session's tenant context, now and for later transactions."""
    session.info[SESSION_KEY] = context
    if session.in_transaction():
        apply(session.connection(), context)


def adopt_context(session: Session, context: TenantContext | None) -> None:
    """Make `context` the session's, for the transactions it begins from now on, without
    applying it: for a transaction whose settings the database has set itself
    (`tenancy.enter`, see resolve.py). None: transactions begin with no context."""
    if context is None:
        session.info.pop(SESSION_KEY, None)
    else:
        session.info[SESSION_KEY] = context


@contextmanager
def system_context(session: Session, *, anonymous: bool = False) -> Iterator[None]:
    """MSC reach for the statements inside, on behalf of the current caller.

    Only for the few rules that span tenants (a provider has one primary facility,
    whichever organization it belongs to) or that guarded columns need (activation, the
    registry's verdict on an NPI): nothing read inside goes back to the caller, every
    change made inside is audited as the caller's, and a change to a row outside the
    caller's organizations is marked cross-tenant. `anonymous` records the system as the
    actor instead, where the change lands in another organization's trail, which must
    not learn who elsewhere caused it. The caller's role stays: an MSC representative's
    request writes no tenant data even so (`tenancy.may_write_tenant_data`).
    """
    current: TenantContext = session.info.get(SESSION_KEY) or TenantContext()
    elevated = replace(current, is_msc_admin=True)
    use_context(session, replace(elevated, user_id=None) if anonymous else elevated)
    try:
        yield
    except BaseException:
        # The transaction is failing; just stop using the wider context.
        session.info[SESSION_KEY] = current
        raise
    use_context(session, current)


def apply_on_begin(session: Session, _tx: SessionTransaction, connection: Any) -> None:
    """Session listener (see app/database.py): each transaction starts in the session's
    context, all of it: whatever the policies decide by (an MSC representative's role,
    which refuses their writes, included) holds in every transaction alike."""
    context = session.info.get(SESSION_KEY)
    if context is not None:
        apply(connection, context)
