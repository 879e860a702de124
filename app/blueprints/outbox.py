"""The email outbox, for MSC admins: what failed, and sending it again."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app import clock
from app.domain import outbox
from app.domain.errors import NotFound
from app.extensions import db
from app.models import OutboxMessage
from app.pagination import SelectPage
from app.permissions import authenticated, require_msc_admin
from app.request_body import Blueprint
from app.schemas.outbox import OutboxMessageSchema, OutboxQuerySchema

blp = Blueprint(
    "outbox",
    __name__,
    url_prefix="/api/v1/admin/outbox",
    description="Emails (renewal reminders, invitations) on their way: written with the "
    "change that causes them, sent by the workers, retried with backoff; those that "
    "failed keep their error.",
)


@blp.route("")
class Outbox(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.arguments(OutboxQuerySchema, location="query")
    @blp.response(200, OutboxMessageSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Select[OutboxMessage]:
        """List messages, newest first (filter by status, kind, organization)."""
        return outbox.list_messages(filters)


@blp.route("/<uuid:message_id>/retry")
class RetryMessage(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.response(200, OutboxMessageSchema)
    @blp.alt_response(409, description="only a failed message can be retried")
    def post(self, message_id: uuid.UUID) -> OutboxMessage:
        """Send a failed message again: its attempts start over, the relay picks it up."""
        message = db.session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound("message not found")
        return outbox.retry(db.session, message, clock.now())
