"""Outbox: an invitation email is linked to its invitation and can be cancelled (status
`cancelled`) when the invitation is replaced or revoked; sent rows keep no secret.

The data: existing invitation emails are linked through their idempotency key
(`invitation:<id>:<token hash prefix>`); those still waiting whose invitation has since
been revoked or given a new token are cancelled; sent rows lose their sealed payload.
Written in the system context, so the policies admit it and the audit trail names it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'pending', 'queued', 'sending', 'sent', 'failed'"


def _as_system() -> None:
    op.execute(
        "SELECT set_config('tenancy.is_msc_admin', 'true', true),"
        " set_config('tenancy.request_id', 'migration:" + revision + "', true)"
    )


def upgrade() -> None:
    op.add_column(
        "outbox_messages",
        sa.Column(
            "invitation_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey(
                "invitations.id",
                name="fk_outbox_messages_invitation_id",
                ondelete="CASCADE",
            ),
        ),
    )
    op.create_index(
        "ix_outbox_messages_invitation_id",
        "outbox_messages",
        ["invitation_id"],
        postgresql_where=sa.text("invitation_id IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_outbox_messages_status"), "outbox_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_messages_status"), "outbox_messages", f"status IN ({STATUSES}, 'cancelled')"
    )

    _as_system()
    op.execute(
        "UPDATE outbox_messages SET invitation_id = split_part(idempotency_key, ':', 2)::uuid"
        " WHERE kind = 'invitation'"
    )
    op.execute(
        "UPDATE outbox_messages m SET status = 'cancelled', sealed_payload = NULL"
        "  FROM invitations i"
        " WHERE m.invitation_id = i.id AND m.status IN ('pending', 'queued')"
        "   AND (i.revoked_at IS NOT NULL"
        "        OR split_part(m.idempotency_key, ':', 3) <> left(i.token_hash, 16))"
    )
    op.execute(
        "UPDATE outbox_messages SET sealed_payload = NULL"
        " WHERE status = 'sent' AND sealed_payload IS NOT NULL"
    )


def downgrade() -> None:
    # The policies at this revision name the column: put back those of 0006 first.
    op.execute(
        "DROP TRIGGER IF EXISTS outbox_messages_guard ON outbox_messages;"
        " DROP FUNCTION IF EXISTS tenancy.guard_outbox_cancellation();"
        " DROP POLICY IF EXISTS outbox_messages_update ON outbox_messages;"
        " CREATE POLICY outbox_messages_update ON outbox_messages FOR UPDATE"
        "     USING ((SELECT tenancy.is_msc_admin()))"
    )
    _as_system()
    op.execute(
        "UPDATE outbox_messages SET status = 'failed', last_error = 'cancelled'"
        " WHERE status = 'cancelled'"
    )
    op.drop_constraint(op.f("ck_outbox_messages_status"), "outbox_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_messages_status"), "outbox_messages", f"status IN ({STATUSES})"
    )
    op.drop_index("ix_outbox_messages_invitation_id", table_name="outbox_messages")
    op.drop_column("outbox_messages", "invitation_id")
