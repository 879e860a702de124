"""The renewal-reminder scan walks credentials in pages ordered by (expiry_date, id): an
index on both hands each page over in order, so a page reads its own rows and no more
(on expiry_date alone, every page read and sorted the whole of its last expiry date,
and looked up the provider of each of those rows). It replaces the index on
expiry_date, which is its leading column.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_credentials_expiry_date_id", "credentials", ["expiry_date", "id"])
    op.drop_index("ix_credentials_expiry_date", table_name="credentials")


def downgrade() -> None:
    op.create_index("ix_credentials_expiry_date", "credentials", ["expiry_date"])
    op.drop_index("ix_credentials_expiry_date_id", table_name="credentials")
