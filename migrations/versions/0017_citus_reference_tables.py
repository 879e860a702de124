"""On a Citus cluster: the global lookups become reference tables.

`us_states` and `npi_registry_answers` are the same for every tenant and read beside
tenant rows (a facility's state, a provider's NPI), so each node keeps a copy, and a
query on one node joins them where the tenant's rows are. A table keeping a foreign key
to one is added to the coordinator's metadata by Citus (a "local" Citus table) until it is
distributed itself. `deployment_region`, one row read at start-up, stays a plain table of
the coordinator.

On plain PostgreSQL (no `citus` extension in the database) this revision does nothing.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tenancy.policies import is_citus

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_TABLES = ("us_states", "npi_registry_answers")


def upgrade() -> None:
    if not is_citus(op.get_bind()):
        return
    for table in REFERENCE_TABLES:
        op.execute(sa.text("SELECT create_reference_table(:t)").bindparams(t=table))


def downgrade() -> None:
    if not is_citus(op.get_bind()):
        return
    for table in REFERENCE_TABLES:
        op.execute(
            sa.text("SELECT undistribute_table(:t, cascade_via_foreign_keys => true)").bindparams(
                t=table
            )
        )
