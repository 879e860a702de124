"""Reads of sensitive data in the audit trail: access events.

- `audit_events.action` may be `access`, and an access carries its `purpose` (the
  endpoint that read the data); a change carries none;
- `access_records`, the door through which the application records an access: a row
  inserted there becomes one audit event through its trigger (policies/access_records.sql)
  and is not kept. On a Citus cluster it is distributed with the trail (app/models/
  access_record.py says why a table and not a function).

Down: the access events stay in the trail (it is never cut short), each with its
purpose moved into `changes`; the earlier revision's check on the action is made again
for the rows written from then on (NOT VALID: it passes over the accesses already there).
Up again, they get their purpose back.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a purpose looks like (app/models/enums.py, AccessPurpose).
PURPOSE_NAME = "^[a-z][a-z_]*$"


def _change_events(statement: str) -> None:
    """Run `statement` on the trail as its owner: the trail's policies let nobody change
    an event, the owner included while they are forced on it."""
    op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    op.execute(statement)
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    # On a Citus cluster whose trail is distributed: one connection per node for the
    # trail's changes below (a setting plain PostgreSQL keeps and ignores), as the
    # migrations distribute access_records at head in the same transaction, which Citus
    # refuses after a command sent over several connections to a node.
    op.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")
    op.add_column("audit_events", sa.Column("purpose", sa.String(64)))
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_events_action")
    op.create_check_constraint(
        op.f("ck_audit_events_action"),
        "audit_events",
        "action IN ('insert', 'update', 'delete', 'access')",
    )
    # accesses kept by a downgrade: their purpose back in its column
    _change_events(
        "UPDATE audit_events SET purpose = changes ->> 'purpose', changes = '{}'"
        " WHERE action = 'access'"
    )
    op.create_check_constraint(
        op.f("ck_audit_events_purpose_of_access"),
        "audit_events",
        "(action = 'access') = (purpose IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_audit_events_purpose_name"), "audit_events", f"purpose ~ '{PURPOSE_NAME}'"
    )
    op.create_table(
        "access_records",
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("row_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("access_records")
    # made from policies/access_records.sql at head; the table's trigger went with it
    op.execute("DROP FUNCTION IF EXISTS tenancy.record_access()")
    # JSON made by hand: Citus refuses the STABLE jsonb functions on a column in an
    # UPDATE, and a purpose is a name (PURPOSE_NAME), with nothing to escape.
    _change_events(
        """UPDATE audit_events SET changes = CAST('{"purpose": "' || purpose || '"}' AS jsonb)"""
        " WHERE action = 'access'"
    )
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_events_purpose_name")
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_events_purpose_of_access")
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_events_action")
    op.execute(
        "ALTER TABLE audit_events ADD CONSTRAINT ck_audit_events_action"
        " CHECK (action IN ('insert', 'update', 'delete')) NOT VALID"
    )
    op.drop_column("audit_events", "purpose")
