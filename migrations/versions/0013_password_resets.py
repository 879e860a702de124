"""Password reset links (stored hashed, single-use, expiring), and their emails.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)

KINDS = "'credential_reminder', 'document_reminder', 'invitation'"


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ),
        sa.Column("revoked_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("uq_password_resets_token_hash", "password_resets", ["token_hash"], unique=True)
    op.create_index(
        "ix_password_resets_user_id_open",
        "password_resets",
        ["user_id"],
        postgresql_where=sa.text("used_at IS NULL AND revoked_at IS NULL"),
    )
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_messages_kind"), "outbox_messages", f"kind IN ({KINDS}, 'password_reset')"
    )


def downgrade() -> None:
    # NOT VALID: password reset emails already written stay as history.
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.execute(
        f"ALTER TABLE outbox_messages ADD CONSTRAINT ck_outbox_messages_kind"
        f" CHECK (kind IN ({KINDS})) NOT VALID"
    )
    op.drop_table("password_resets")
    # Applied with the policies at head (policies/password_resets.sql); nothing uses it
    # below this revision.
    op.execute("DROP FUNCTION IF EXISTS tenancy.guard_password_reset()")
