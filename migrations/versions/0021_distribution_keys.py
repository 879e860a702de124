"""Keys a Citus cluster can distribute by organization.

A distributed table's primary key and unique constraints must hold its distribution
column, and a foreign key may not point from a coordinator table into a distributed one
(docs/citus-layout.md, "What each needs before it moves"). So, on both engines alike:

- the tenant tables' primary keys become (organization_id, id); `id`, a random UUID,
  stays the identity the API and the ORM use. The facilities' (organization_id, id)
  unique constraint, the target of the composite foreign keys, is now their primary key;
- an invitation's token hash is unique within its organization;
- the audit trail files the events of global rows made outside any organization under
  the nil UUID (app/models/audit_event.py, NO_ORGANIZATION_ID) instead of NULL;
- a facility's office manager is no longer cleared by the database when their membership
  is deleted: Citus takes no ON DELETE SET NULL on a key that holds the distribution
  column. A membership is deactivated, never deleted (app/domain/members.py); one removed
  by hand must first be no facility's office manager, as it must have no assignments
  and orders;
- the staff's reach into their members' credentials and documents is found through
  users.organization_ids (a table on every node), no longer the memberships: it gets an
  index;
- the outbox's foreign key to invitations goes: the domain cancels an invitation's email
  (app/domain/outbox.py), and an invitation is deleted only with its organization, whose
  messages go with it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose primary key was (id) alone; facilities' moves separately.
_KEYED_BY_ID = (
    "memberships",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "orders",
    "audit_events",
)
NO_ORGANIZATION_ID = "00000000-0000-0000-0000-000000000000"

# The composite foreign keys that point at facilities (organization_id, id).
_FACILITY_REFERENCES = {
    "fk_provider_facilities_facility": ("provider_facilities", "ON DELETE CASCADE"),
    "fk_orders_facility": ("orders", ""),
}


def _replace_primary_key(table: str, columns: str) -> None:
    # one subcommand per ALTER TABLE: Citus takes no other beside ADD CONSTRAINT
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({columns})")


def _point_at_facilities(target: str) -> None:
    """Drop the foreign keys that point at facilities, drop `target` (the constraint they
    rest on), and add them again: they then rest on the other of the two."""
    for name, (table, _action) in _FACILITY_REFERENCES.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE facilities DROP CONSTRAINT {target}")
    for name, (table, action) in _FACILITY_REFERENCES.items():
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (organization_id, facility_id)"
            f" REFERENCES facilities (organization_id, id) {action}"
        )


def _office_manager_reference(action: str) -> None:
    op.execute("ALTER TABLE facilities DROP CONSTRAINT fk_facilities_office_manager")
    op.execute(
        "ALTER TABLE facilities ADD CONSTRAINT fk_facilities_office_manager"
        " FOREIGN KEY (organization_id, office_manager_id)"
        f" REFERENCES memberships (organization_id, user_id) {action}"
    )


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_messages DROP CONSTRAINT fk_outbox_messages_invitation_id")

    op.execute(
        f"UPDATE audit_events SET organization_id = '{NO_ORGANIZATION_ID}'"
        " WHERE organization_id IS NULL"
    )
    op.execute(
        f"ALTER TABLE audit_events ALTER COLUMN organization_id SET DEFAULT '{NO_ORGANIZATION_ID}'"
    )
    op.execute("ALTER TABLE audit_events ALTER COLUMN organization_id SET NOT NULL")
    for table in _KEYED_BY_ID:
        _replace_primary_key(table, "organization_id, id")

    _replace_primary_key("facilities", "organization_id, id")
    _point_at_facilities("uq_facilities_organization_id_id")

    _office_manager_reference("")

    op.execute(
        "CREATE UNIQUE INDEX uq_invitations_organization_id_token_hash"
        " ON invitations (organization_id, token_hash)"
    )
    op.execute("DROP INDEX uq_invitations_token_hash")

    op.execute("CREATE INDEX ix_users_organization_ids ON users USING gin (organization_ids)")


# Before this revision the organizations policy found the invitation of a presented token
# itself; the policies at head read the organization from the context instead
# (tenancy.invited_organization_ids), through a function that 0020 takes away.
_INVITED_ORGANIZATION_IDS_BEFORE = """
CREATE OR REPLACE FUNCTION tenancy.invited_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(i.organization_id), '{}'::uuid[])
      FROM invitations i
     WHERE i.token_hash = tenancy.invitation_token_hash()
$$"""


def downgrade() -> None:
    op.execute(_INVITED_ORGANIZATION_IDS_BEFORE)
    op.execute("DROP INDEX ix_users_organization_ids")
    op.execute("CREATE UNIQUE INDEX uq_invitations_token_hash ON invitations (token_hash)")
    op.execute("DROP INDEX uq_invitations_organization_id_token_hash")
    _office_manager_reference("ON DELETE SET NULL (office_manager_id)")

    op.execute(
        "ALTER TABLE facilities ADD CONSTRAINT uq_facilities_organization_id_id"
        " UNIQUE (organization_id, id)"
    )
    _point_at_facilities("pk_facilities")
    op.execute("ALTER TABLE facilities ADD CONSTRAINT pk_facilities PRIMARY KEY (id)")

    for table in _KEYED_BY_ID:
        _replace_primary_key(table, "id")
    op.execute("ALTER TABLE audit_events ALTER COLUMN organization_id DROP NOT NULL")
    op.execute("ALTER TABLE audit_events ALTER COLUMN organization_id DROP DEFAULT")
    op.execute(
        f"UPDATE audit_events SET organization_id = NULL"
        f" WHERE organization_id = '{NO_ORGANIZATION_ID}'"
    )

    op.execute(
        "ALTER TABLE outbox_messages ADD CONSTRAINT fk_outbox_messages_invitation_id"
        " FOREIGN KEY (invitation_id) REFERENCES invitations (id) ON DELETE CASCADE"
    )
