"""Global rows follow tenant rows in the application, not in triggers.

Two row triggers on tenant tables wrote a global row: `mark_onboarding_started` (a
facility, invitation, document or completed step moves `organizations.onboarding_status`
from initiated to in_progress) and `sync_member_organizations` (a membership change
rewrites `users.organization_ids`). On a Citus cluster a trigger on a tenant row fires on a
worker's shard, where writing a reference table is a nested distributed write
(docs/citus-layout.md, item 4). The domain functions that write those rows now make both
changes themselves, in the same transaction (app/domain/onboarding.py, members.py).

The owner's policies on users served the SECURITY DEFINER sync alone and go with it. The
guard on `users.organization_ids` (policies/users.sql, applied at head) now checks the
value against the memberships instead of admitting the owner alone. The data needs
nothing: the triggers kept it as the application now does.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONBOARDING_TABLES = ("facilities", "invitations", "documents", "onboarding_step_completions")


def upgrade() -> None:
    for table in ONBOARDING_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_onboarding ON {table}")
    op.execute("DROP FUNCTION IF EXISTS tenancy.mark_onboarding_started()")
    op.execute("DROP TRIGGER IF EXISTS memberships_sync_users ON memberships")
    op.execute("DROP FUNCTION IF EXISTS tenancy.sync_member_organizations()")
    op.execute("DROP POLICY IF EXISTS users_sync_select ON users")
    op.execute("DROP POLICY IF EXISTS users_sync_update ON users")


# What 0017's policies held, as they held it.
MARK_ONBOARDING_STARTED = """
CREATE OR REPLACE FUNCTION tenancy.mark_onboarding_started() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        UPDATE organizations SET onboarding_status = 'in_progress'
         WHERE id = NEW.organization_id AND onboarding_status = 'initiated';
    END IF;
    RETURN NULL;
END
$$
"""

SYNC_MEMBER_ORGANIZATIONS = """
CREATE OR REPLACE FUNCTION tenancy.sync_member_organizations() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE users SET organization_ids = array_remove(organization_ids, OLD.organization_id)
         WHERE id = OLD.user_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE users SET organization_ids = organization_ids || NEW.organization_id
         WHERE id = NEW.user_id AND NOT organization_ids @> ARRAY[NEW.organization_id];
    END IF;
    RETURN NULL;
END
$$
"""

OWNER_SYNC_POLICIES = """
DO $$
DECLARE
    owner name := (SELECT tableowner FROM pg_tables
                    WHERE schemaname = 'public' AND tablename = 'users');
BEGIN
    EXECUTE format('CREATE POLICY users_sync_select ON users FOR SELECT TO %I USING (true)',
                   owner);
    EXECUTE format('CREATE POLICY users_sync_update ON users FOR UPDATE TO %I USING (true)',
                   owner);
END
$$
"""

OWNER_ONLY_GUARD = """
CREATE OR REPLACE FUNCTION tenancy.guard_user_organization_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization_ids IS DISTINCT FROM
           (CASE WHEN TG_OP = 'UPDATE' THEN OLD.organization_ids ELSE '{}'::uuid[] END)
       AND NOT coalesce(pg_has_role(current_user,
                                    (SELECT tableowner FROM pg_tables
                                      WHERE schemaname = TG_TABLE_SCHEMA
                                        AND tablename = tenancy.unsharded(TG_TABLE_NAME)),
                                    'MEMBER'),
                        false)
    THEN
        RAISE EXCEPTION 'users.organization_ids follows the memberships'
            USING ERRCODE = 'insufficient_privilege', COLUMN = 'organization_ids';
    END IF;
    RETURN NEW;
END
$$
"""


def downgrade() -> None:
    op.execute(MARK_ONBOARDING_STARTED)
    for table in ONBOARDING_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_onboarding AFTER INSERT ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION tenancy.mark_onboarding_started()"
        )
    op.execute(SYNC_MEMBER_ORGANIZATIONS)
    op.execute("REVOKE ALL ON FUNCTION tenancy.sync_member_organizations() FROM PUBLIC")
    op.execute(
        "CREATE TRIGGER memberships_sync_users"
        " AFTER INSERT OR DELETE OR UPDATE OF organization_id, user_id ON memberships"
        " FOR EACH ROW EXECUTE FUNCTION tenancy.sync_member_organizations()"
    )
    op.execute(OWNER_SYNC_POLICIES)
    op.execute(OWNER_ONLY_GUARD)
