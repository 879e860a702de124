"""Multi-factor sign-in: TOTP secrets, recovery codes, organizations requiring MFA of their admins.

Users get their encrypted TOTP secret, when it was turned on, and the time step of the
last code accepted (no code works twice); `mfa_recovery_codes` keeps the hashes of their
one-time recovery codes. Row-level security, the column guard and the audit redaction
live in policies/users.sql and policies/mfa_recovery_codes.sql, applied at head.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("mfa_secret", sa.Text))
    op.add_column("users", sa.Column("mfa_enabled_at", TZ))
    op.add_column("users", sa.Column("mfa_last_step", sa.BigInteger))
    op.add_column(
        "organizations",
        sa.Column("require_admin_mfa", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("user_id", "code_hash"),
    )


def downgrade() -> None:
    op.drop_table("mfa_recovery_codes")
    # created by policies/ when the schema reached head
    op.execute("DROP FUNCTION IF EXISTS tenancy.guard_recovery_code_use()")
    op.execute("DROP TRIGGER IF EXISTS users_mfa_guard ON users")
    op.execute("DROP FUNCTION IF EXISTS tenancy.guard_own_mfa()")
    op.drop_column("organizations", "require_admin_mfa")
    op.drop_column("users", "mfa_last_step")
    op.drop_column("users", "mfa_enabled_at")
    op.drop_column("users", "mfa_secret")
