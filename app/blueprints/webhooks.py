"""Webhooks: an organization's endpoints, the events recorded for them, the delivery log,
and replay (app/domain/webhooks.py)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from flask.views import MethodView
from sqlalchemy import inspect

from app import clock
from app.blueprints.lookups import organization_or_404
from app.domain import webhook_events, webhooks
from app.domain.errors import NotFound
from app.domain.outbox import Sealer
from app.domain.queries import Rows
from app.extensions import current_settings, db
from app.models import Organization, WebhookEndpoint, WebhookEvent
from app.pagination import SelectPage
from app.permissions import Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.webhooks import (
    AttemptSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    EndpointCreateSchema,
    EndpointSchema,
    EndpointUpdateSchema,
    EndpointWithSecretSchema,
    EventQuerySchema,
    EventSchema,
    EventTypeSchema,
    ReplayResultSchema,
    ReplaySchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/admin",
    description="Webhooks: an organization's admins register the endpoints where its "
    "systems receive its events, each subscribed to event types. Every event is posted "
    "to each subscribed active endpoint, signed to the Standard Webhooks specification "
    "with the endpoint's secret (`webhook-id`, `webhook-timestamp`, `webhook-signature`), "
    "and retried until it is delivered or its attempts run out; every attempt is in the "
    "delivery log, and failed deliveries can be replayed. A secret is shown once, when the "
    "endpoint is registered or its secret rotated. Organization admins manage their "
    "organizations' endpoints, MSC admins every organization's; each change, rotation and "
    "replay is in the organization's audit trail.",
)

ENDPOINTS = "/organizations/<uuid:organization_id>/webhook-endpoints"
ENDPOINT = f"{ENDPOINTS}/<uuid:endpoint_id>"
EVENTS = "/organizations/<uuid:organization_id>/webhook-events"

Row = TypeVar("Row", WebhookEndpoint, WebhookEvent)


def _sealer() -> Sealer:
    """What seals the endpoints' secrets: the outbox's key, which the workers unseal them
    with to sign."""
    return Sealer(current_settings().outbox_secret_key)


def _organization(organization_id: uuid.UUID) -> Organization:
    return organization_or_404(organization_id, in_scope=True)


def _of_organization_or_404(
    model: type[Row], organization_id: uuid.UUID, row_id: uuid.UUID, name: str
) -> Row:
    """An endpoint or event of the organization, when the caller acts for the organization.
    Their policies show them only to those who do, so the organization itself is not read."""
    found = None
    if current_context().reaches(organization_id):
        found = db.session.get(model, (organization_id, row_id))
    if found is None:
        raise NotFound(f"{name} not found")
    return found


def _endpoint_or_404(organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return _of_organization_or_404(
        WebhookEndpoint, organization_id, endpoint_id, "webhook endpoint"
    )


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    """The endpoint's fields and its new secret, for the one answer that shows it."""
    fields = {
        attr.key: getattr(endpoint, attr.key) for attr in inspect(endpoint).mapper.column_attrs
    }
    return {**fields, "secret": secret}


@blp.route("/webhook-event-types")
class EventTypes(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(200, EventTypeSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The event types an endpoint may subscribe to, each with what it announces and
        an example of its `data`."""
        return [
            {
                "type": type_.value,
                "description": description,
                "example": webhook_events.EXAMPLES[type_],
            }
            for type_, description in webhooks.EVENT_TYPE_DESCRIPTIONS.items()
        ]


@blp.route(ENDPOINTS)
class Endpoints(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(200, EndpointSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, organization_id: uuid.UUID) -> Rows:
        """The organization's endpoints, oldest first (paginated)."""
        return webhooks.list_endpoints(_organization(organization_id).id)

    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.arguments(EndpointCreateSchema)
    @blp.response(201, EndpointWithSecretSchema)
    def post(self, data: dict[str, Any], organization_id: uuid.UUID) -> dict[str, Any]:
        """Register an endpoint. The answer carries its signing secret, shown this once:
        no other answer shows it."""
        organization = _organization(organization_id)
        endpoint, secret = webhooks.create_endpoint(
            db.session,
            organization,
            data,
            sealer=_sealer(),
            created_by_id=current_context().user_id,
            require_https=current_settings().webhooks_require_https,
        )
        return _with_secret(endpoint, secret)


@blp.route(ENDPOINT)
class EndpointById(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(200, EndpointSchema)
    def get(self, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        """Get one endpoint (without its secret)."""
        return _endpoint_or_404(organization_id, endpoint_id)

    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.arguments(EndpointUpdateSchema)
    @blp.response(200, EndpointSchema)
    def patch(
        self, changes: dict[str, Any], organization_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        """Change an endpoint (only the fields sent)."""
        endpoint = _endpoint_or_404(organization_id, endpoint_id)
        return webhooks.update_endpoint(
            db.session,
            endpoint,
            changes,
            require_https=current_settings().webhooks_require_https,
        )

    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(204)
    def delete(self, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
        """Remove an endpoint, with its deliveries and their log; the events stay."""
        webhooks.delete_endpoint(db.session, _endpoint_or_404(organization_id, endpoint_id))


@blp.route(f"{ENDPOINT}/secret-rotations")
class SecretRotations(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(201, EndpointWithSecretSchema)
    def post(self, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> dict[str, Any]:
        """Give the endpoint a new signing secret, shown in this answer only. The one it
        replaces keeps signing beside it until `previous_secret_expires_at`, for the
        receiver to switch without missing an event."""
        endpoint = _endpoint_or_404(organization_id, endpoint_id)
        secret = webhooks.rotate_secret(
            db.session,
            endpoint,
            sealer=_sealer(),
            now=clock.now(),
            overlap=current_settings().webhook_secret_overlap,
        )
        return _with_secret(endpoint, secret)


@blp.route(f"{ENDPOINT}/replays")
class Replays(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.arguments(ReplaySchema)
    @blp.response(200, ReplayResultSchema)
    @blp.alt_response(409, description="the endpoint is not active")
    def post(
        self, data: dict[str, Any], organization_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> dict[str, int]:
        """Deliver again: one event (`event_id`), or every event of the endpoint's types
        that happened from `since` to `until` whose delivery failed or that the endpoint
        missed while inactive. The deliveries start over, their earlier
        attempts kept in the log; a delivery being attempted right now is left to finish."""
        endpoint = _endpoint_or_404(organization_id, endpoint_id)
        replayed = webhooks.replay(db.session, endpoint, clock.now(), **data)
        return {"replayed": replayed}


@blp.route(f"{ENDPOINT}/deliveries")
class Deliveries(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate(SelectPage)
    def get(
        self, filters: dict[str, Any], organization_id: uuid.UUID, endpoint_id: uuid.UUID
    ) -> Rows:
        """The endpoint's deliveries, newest first, each with its event's type (paginated;
        filter by status, event type, event)."""
        endpoint = _endpoint_or_404(organization_id, endpoint_id)
        return webhooks.deliveries(
            endpoint.organization_id, {**filters, "endpoint_id": endpoint.id}
        )


@blp.route(f"{ENDPOINT}/attempts")
class EndpointAttempts(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(200, AttemptSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, organization_id: uuid.UUID, endpoint_id: uuid.UUID) -> Rows:
        """The endpoint's delivery log: every attempt, newest first (paginated), with
        what the endpoint answered or why no answer came."""
        endpoint = _endpoint_or_404(organization_id, endpoint_id)
        return webhooks.attempts(endpoint.organization_id, {"endpoint_id": endpoint.id})


@blp.route(EVENTS)
class Events(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any], organization_id: uuid.UUID) -> Rows:
        """The organization's events, newest first (paginated; filter by type, and by
        when they happened: from `since`, before `until`)."""
        return webhooks.events(_organization(organization_id).id, filters)


@blp.route(f"{EVENTS}/<uuid:event_id>/attempts")
class EventAttempts(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_WEBHOOKS)
    @blp.response(200, AttemptSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, organization_id: uuid.UUID, event_id: uuid.UUID) -> Rows:
        """Every attempt to deliver the event, to each endpoint, newest first (paginated)."""
        event = _of_organization_or_404(WebhookEvent, organization_id, event_id, "webhook event")
        return webhooks.attempts(event.organization_id, {"event_id": event.id})
