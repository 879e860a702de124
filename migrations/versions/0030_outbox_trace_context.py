"""Outbox: a message keeps the trace context of the request or job that wrote it (the
W3C `traceparent`, and `tracestate` when there is one), so that the worker's send
continues that trace. NULL when nothing was traced, as for every message written before.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_messages", sa.Column("trace_context", pg.JSONB()))


def downgrade() -> None:
    op.drop_column("outbox_messages", "trace_context")
