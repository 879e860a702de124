"""Exclusion notices: the outbox carries a new kind of email, the notice to an
organization's admins that one of its providers is excluded (app/domain/
exclusion_reviews.py).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "'credential_reminder', 'document_reminder', 'invitation', 'password_reset'"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_messages_kind"), "outbox_messages", f"kind IN ({KINDS}, 'exclusion_notice')"
    )


def downgrade() -> None:
    # NOT VALID: notices already written stay as history.
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.execute(
        f"ALTER TABLE outbox_messages ADD CONSTRAINT ck_outbox_messages_kind"
        f" CHECK (kind IN ({KINDS})) NOT VALID"
    )
