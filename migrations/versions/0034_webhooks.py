"""Webhooks: organizations' endpoints, the events recorded with the changes that cause
them, their deliveries and every delivery attempt (app/models/webhook.py); and the
outbox's email telling an organization's admins that an endpoint was disabled.

Tenant tables keyed (organization_id, id), distributed by organization on a Citus
cluster (docs/citus-layout.md), so that an organization's endpoints, events, deliveries
and attempts lie on one node.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As released with this revision: app/models/enums.py may grow, a migration may not.
EVENT_TYPES = (
    "'provider.invited', 'provider.joined', 'provider.left', 'assignment.changed',"
    " 'credential.expiring', 'credential.expired', 'credential.verified',"
    " 'organization.onboarding_step_completed', 'organization.activated',"
    " 'exclusion.candidate'"
)
DELIVERY_STATUSES = "'pending', 'queued', 'sending', 'delivered', 'failed'"
KINDS = (
    "'credential_reminder', 'document_reminder', 'invitation', 'password_reset', 'exclusion_notice'"
)


def _uuid(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, pg.UUID(as_uuid=True), nullable=nullable)


def _id() -> sa.Column[Any]:
    return sa.Column(
        "id", pg.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False
    )


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _organization_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_organization_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        _uuid("organization_id", nullable=False),
        _id(),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(500), server_default="", nullable=False),
        sa.Column("event_types", pg.ARRAY(sa.String(64)), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("previous_secret_sealed", sa.Text()),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text()),
        _uuid("created_by_id"),
        *_timestamps(),
        sa.CheckConstraint(
            f"cardinality(event_types) > 0 AND event_types <@ ARRAY[{EVENT_TYPES}]::varchar[]",
            name=op.f("ck_webhook_endpoints_event_types"),
        ),
        sa.CheckConstraint(
            "(previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)",
            name=op.f("ck_webhook_endpoints_previous_secret_expires"),
        ),
        sa.CheckConstraint(
            "disabled_at IS NULL OR NOT active",
            name=op.f("ck_webhook_endpoints_disabled_is_inactive"),
        ),
        _organization_fk("webhook_endpoints"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_webhook_endpoints_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_events",
        _uuid("organization_id", nullable=False),
        _id(),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("data", pg.JSONB(), nullable=False),
        sa.CheckConstraint(f"type IN ({EVENT_TYPES})", name=op.f("ck_webhook_events_type")),
        _organization_fk("webhook_events"),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_webhook_events")),
    )
    op.create_index(
        "uq_webhook_events_organization_id_key",
        "webhook_events",
        ["organization_id", "key"],
        unique=True,
    )
    op.create_index(
        "ix_webhook_events_organization_id_occurred_at",
        "webhook_events",
        ["organization_id", "occurred_at"],
    )
    op.create_table(
        "webhook_deliveries",
        _uuid("organization_id", nullable=False),
        _id(),
        _uuid("endpoint_id", nullable=False),
        _uuid("event_id", nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        *_timestamps(),
        sa.CheckConstraint(
            f"status IN ({DELIVERY_STATUSES})", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "endpoint_id"],
            ["webhook_endpoints.organization_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_organization_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "event_id"],
            ["webhook_events.organization_id", "webhook_events.id"],
            name=op.f("fk_webhook_deliveries_organization_id_event_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "uq_webhook_deliveries_organization_id_endpoint_id_event_id",
        "webhook_deliveries",
        ["organization_id", "endpoint_id", "event_id"],
        unique=True,
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_organization_id_event_id",
        "webhook_deliveries",
        ["organization_id", "event_id"],
    )
    op.create_table(
        "webhook_attempts",
        _uuid("organization_id", nullable=False),
        _id(),
        _uuid("delivery_id", nullable=False),
        _uuid("endpoint_id", nullable=False),
        _uuid("event_id", nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("response_body", sa.Text()),
        sa.ForeignKeyConstraint(
            ["organization_id", "delivery_id"],
            ["webhook_deliveries.organization_id", "webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_organization_id_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_organization_id_endpoint_id_attempted_at",
        "webhook_attempts",
        ["organization_id", "endpoint_id", "attempted_at"],
    )
    op.create_index(
        "ix_webhook_attempts_organization_id_event_id",
        "webhook_attempts",
        ["organization_id", "event_id"],
    )
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_outbox_messages_kind"), "outbox_messages", f"kind IN ({KINDS}, 'webhook_disabled')"
    )


def downgrade() -> None:
    # NOT VALID: notices already written stay as history.
    op.drop_constraint(op.f("ck_outbox_messages_kind"), "outbox_messages", type_="check")
    op.execute(
        f"ALTER TABLE outbox_messages ADD CONSTRAINT ck_outbox_messages_kind"
        f" CHECK (kind IN ({KINDS})) NOT VALID"
    )
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints"):
        op.drop_table(table)
