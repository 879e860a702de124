"""Each organization's verification decisions are its own; the shared outcome keeps its
history.

A credential is read by every organization its owner works for, so whatever its row
holds, each of them reads. It held the last decision whole: who decided
(`verified_by_id`, a staff member of the deciding organization) and why it was rejected
(`rejection_reason`), which another organization had no business reading. From here:

- `credential_verifications`, a tenant table (distributed by organization on a Citus
  cluster), holds each decision, one row each, under the deciding organization's
  row-level security: status (verified or rejected), reason, who and when;
- the credential keeps the shared outcome (`verification_status`, `verified_at`) and its
  history (`verification_history`: each decision's and each voiding edit's status and
  time, without who or why), from which the outcome on a past day is replayed;
  `verified_by_id` and `rejection_reason` leave it.

The data: each credential's last decision becomes one row of the organization that made
it, as the audit trail recorded the change (the event that set its `verified_at`); else
the organization of the decider's membership among the owner's organizations (the
smallest id, if several); else the owner's first organization. A decision on the
credential of an owner with no organization has no organization to go to, and its
decider and reason are dropped (only MSC admins could have read them). The history
starts with that decision: the earlier ones were not kept.

Down: the decider and reason of the decision behind each outcome go back onto the
credential (a rejection whose reason was dropped reads "not recorded"), with the
guard of 0026; the decisions and the history go.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Read or written whole below, as their owner: the owner role is bound by their forced
# policies, which admit nobody without a context. The credentials' own triggers are off
# meanwhile: the move is no one's change (no audit event, no new updated_at).
_MOVED_AS_OWNER = (
    "credentials",
    "memberships",
    "organizations",
    "audit_events",
    "credential_verifications",
)


def _as_owner(*statements: str) -> None:
    for table in _MOVED_AS_OWNER:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE credentials DISABLE TRIGGER USER")
    for statement in statements:
        op.execute(statement)
    op.execute("ALTER TABLE credentials ENABLE TRIGGER USER")
    for table in _MOVED_AS_OWNER:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    op.create_table(
        "credential_verifications",
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "id", pg.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("credential_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("verification_status", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.Text()),
        sa.Column("verified_by_id", pg.UUID(as_uuid=True)),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "verification_status IN ('verified', 'rejected')",
            name=op.f("ck_credential_verifications_decision"),
        ),
        sa.CheckConstraint(
            "(verification_status = 'rejected') = (rejection_reason IS NOT NULL)",
            name=op.f("ck_credential_verifications_reason_of_rejection"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_credential_verifications_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_credential_verifications_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_credential_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["users.id"],
            name=op.f("fk_credential_verifications_verified_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_credential_verifications")),
    )
    op.create_index(
        "ix_credential_verifications_credential_id_verified_at",
        "credential_verifications",
        ["credential_id", "verified_at"],
    )
    op.add_column(
        "credentials",
        sa.Column(
            "verification_history",
            pg.JSONB(),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
    )
    _as_owner(
        """
        INSERT INTO credential_verifications
            (organization_id, credential_id, user_id, verification_status, rejection_reason,
             verified_by_id, verified_at)
        SELECT decider.organization_id, c.id, c.user_id, c.verification_status,
               c.rejection_reason, c.verified_by_id, c.verified_at
          FROM credentials c
          CROSS JOIN LATERAL (
              SELECT coalesce(
                  (SELECT e.organization_id
                     FROM audit_events e
                     JOIN organizations o ON o.id = e.organization_id
                    WHERE e.table_name = 'credentials' AND e.action = 'update'
                      AND e.row_id = c.id
                      AND (e.changes -> 'verified_at' ->> 'new')::timestamptz = c.verified_at
                    ORDER BY e.occurred_at DESC, e.id
                    LIMIT 1),
                  (SELECT min(m.organization_id::text)::uuid
                     FROM memberships m
                    WHERE m.user_id = c.verified_by_id
                      AND m.organization_id = ANY (c.owner_organization_ids)),
                  c.owner_organization_ids[1]) AS organization_id
          ) decider
         WHERE c.verification_status IN ('verified', 'rejected')
           AND c.verified_at IS NOT NULL
           AND decider.organization_id IS NOT NULL
        """,
        # The entries as policies/credentials.sql writes them (UTC text), made in a
        # materialized CTE: Citus calls no STABLE function (to_char) on the rows of the
        # table an UPDATE changes, but it takes the CTE's result as plain values.
        """
        WITH entries AS MATERIALIZED (
            SELECT id, jsonb_build_array(jsonb_build_object(
                       'verification_status', verification_status,
                       'changed_at', to_char(verified_at AT TIME ZONE 'UTC',
                                             'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) AS history
              FROM credentials
             WHERE verification_status IN ('verified', 'rejected') AND verified_at IS NOT NULL)
        UPDATE credentials c
           SET verification_history = entries.history
          FROM entries
         WHERE c.id = entries.id
        """,
    )
    op.drop_constraint(op.f("ck_credentials_rejection_has_reason"), "credentials", type_="check")
    op.drop_column("credentials", "rejection_reason")
    op.drop_column("credentials", "verified_by_id")


def downgrade() -> None:
    op.add_column(
        "credentials",
        sa.Column(
            "verified_by_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey(
                "users.id", name=op.f("fk_credentials_verified_by_id_users"), ondelete="SET NULL"
            ),
        ),
    )
    op.add_column("credentials", sa.Column("rejection_reason", sa.Text()))
    _as_owner(
        """
        UPDATE credentials c
           SET verified_by_id = v.verified_by_id, rejection_reason = v.rejection_reason
          FROM (SELECT DISTINCT ON (credential_id, verified_at) *
                  FROM credential_verifications
                 ORDER BY credential_id, verified_at, organization_id) v
         WHERE v.credential_id = c.id AND v.verified_at = c.verified_at
        """,
        """
        UPDATE credentials SET rejection_reason = 'not recorded'
         WHERE verification_status = 'rejected' AND rejection_reason IS NULL
        """,
    )
    op.create_check_constraint(
        op.f("ck_credentials_rejection_has_reason"),
        "credentials",
        "verification_status <> 'rejected' OR rejection_reason IS NOT NULL",
    )
    op.execute(_GUARD_0026)
    op.execute("DROP TRIGGER IF EXISTS credentials_history_start ON credentials")
    op.execute("DROP FUNCTION IF EXISTS tenancy.start_credential_history()")
    op.drop_column("credentials", "verification_history")
    op.drop_table("credential_verifications")


# The credentials' column guard of 0026 (policies/credentials.sql then).
_GUARD_0026 = r"""
CREATE OR REPLACE FUNCTION tenancy.guard_credential_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    verification CONSTANT text[] :=
        ARRAY['verification_status', 'verified_by_id', 'verified_at', 'rejection_reason'];
    changed text[] := ARRAY(
        SELECT n.key FROM jsonb_each(to_jsonb(NEW)) n
         WHERE n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key AND n.key <> 'updated_at');
    verification_changed boolean := changed && verification;
    data_changed boolean := NOT (changed <@ verification);
BEGIN
    IF tenancy.is_msc_admin() THEN
        RETURN NEW;
    END IF;
    IF OLD.user_id = tenancy.user_id() THEN
        IF verification_changed THEN
            PERFORM tenancy.raise_for_column(
                'insufficient_privilege',
                'a provider cannot verify their own credential',
                'verification_status');
        END IF;
        IF data_changed THEN
            NEW.verification_status := 'unverified';
            NEW.verified_by_id := NULL;
            NEW.verified_at := NULL;
            NEW.rejection_reason := NULL;
        END IF;
    ELSIF data_changed THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'only the provider edits their credential',
            changed[1]);
    END IF;
    RETURN NEW;
END
$$;
"""
