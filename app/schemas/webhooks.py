"""Webhooks over the API: an organization's endpoints (their secrets shown once), the
event types they subscribe to, the events, the deliveries and their log, and replay."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from app.models.enums import WebhookDeliveryStatus, WebhookEventType, values
from app.schemas.base import Schema
from app.schemas.fields import Constrained, StrictBoolean

EVENT_TYPES = values(WebhookEventType)
_EVENT_TYPE = validate.OneOf(EVENT_TYPES)
# The columns' lengths (app/models/webhook.py).
_DESCRIPTION = validate.Length(max=500)


class EndpointUrl(Constrained):
    MAX_LENGTH = 2048
    FORMAT = "uri"
    RULE = (
        "an absolute https:// URL (http:// is taken outside production), with a host and"
        " without a user name, password or fragment; the address its host resolves to is"
        " checked at each delivery, and a private or local one is refused"
    )


def _event_types(*, required: bool) -> fields.List[str]:
    return fields.List(
        fields.String(validate=_EVENT_TYPE),
        required=required,
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={
            "description": "the event types delivered to the endpoint (GET"
            " /api/v1/admin/webhook-event-types lists them)"
        },
    )


def _moment(description: str) -> fields.AwareDateTime:
    """A moment as RFC 3339 text; one without an offset is taken as UTC."""
    return fields.AwareDateTime(default_timezone=dt.UTC, metadata={"description": description})


class EventTypeSchema(Schema):
    type = fields.String(metadata={"enum": EVENT_TYPES})
    description = fields.String()
    example = fields.Dict(
        metadata={"description": "an event's `data` of this type, made by the same code"}
    )


class EndpointSchema(Schema):
    """An endpoint as every answer shows it: never its secret."""

    id = fields.UUID()
    organization_id = fields.UUID()
    url = fields.String()
    description = fields.String()
    event_types = fields.List(fields.String(metadata={"enum": EVENT_TYPES}))
    active = fields.Boolean()
    previous_secret_expires_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "until when the secret replaced by the last rotation still signs"
            " deliveries beside the current one (null: no rotation under way)"
        },
    )
    failing_since = fields.DateTime(
        allow_none=True,
        metadata={"description": "since when every attempt has failed (null: not failing)"},
    )
    disabled_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "when delivery disabled the endpoint for failing too long"},
    )
    disabled_reason = fields.String(allow_none=True)
    created_by_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EndpointWithSecretSchema(EndpointSchema):
    """An endpoint just registered, or whose secret was just rotated: with its new
    signing secret, shown this once."""

    secret = fields.String(
        metadata={
            "description": "the signing secret (Standard Webhooks, `whsec_` and base64),"
            " shown in this answer only: store it now"
        }
    )


class EndpointCreateSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "url": "https://hooks.northwind-health.example/msc",
        "description": "Credentialing system",
        "event_types": ["provider.joined", "credential.expiring"],
    }

    url = EndpointUrl(required=True)
    description = fields.String(validate=_DESCRIPTION)
    event_types = _event_types(required=True)
    active = StrictBoolean(metadata={"description": "default true"})


class EndpointUpdateSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "event_types": ["provider.joined", "provider.left"],
        "active": True,
    }

    url = EndpointUrl()
    description = fields.String(validate=_DESCRIPTION)
    event_types = _event_types(required=False)
    active = StrictBoolean(
        metadata={
            "description": "false stops deliveries; true again (after a disabling too)"
            " clears the failure record; failed deliveries, and events missed while"
            " inactive, wait for a replay"
        }
    )


class ReplaySchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "since": "2026-11-30T00:00:00Z",
        "until": "2026-12-01T00:00:00Z",
    }
    EXACTLY_ONE_OF = ("event_id", "since")

    event_id = fields.UUID(
        metadata={
            "description": "one event to deliver again, whatever its delivery's state (sent"
            " now if it never was)"
        }
    )
    since = _moment(
        "with `until`: every event of the endpoint's types that happened from then and"
        " failed, or was missed while the endpoint was inactive"
    )
    until = _moment("up to this moment, excluded")

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is None:
            raise ValidationError("required with `since`", "until")
        if until is not None and since is None:
            raise ValidationError("goes with `since`", "until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be after `since`", "until")


class ReplayResultSchema(Schema):
    replayed = fields.Integer(metadata={"description": "how many deliveries start over"})


class EventSchema(Schema):
    id = fields.UUID(metadata={"description": "the `webhook-id` of each of its deliveries"})
    organization_id = fields.UUID()
    type = fields.String(metadata={"enum": EVENT_TYPES})
    occurred_at = fields.DateTime()
    data = fields.Dict(metadata={"description": "the event's data, as delivered"})


class EventQuerySchema(Schema):
    type = fields.String(validate=_EVENT_TYPE)
    since = _moment("events that happened from this moment")
    until = _moment("events that happened before this moment")

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be after `since`", "until")


class DeliverySchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    endpoint_id = fields.UUID()
    event_id = fields.UUID()
    event_type = fields.String(metadata={"enum": EVENT_TYPES})
    status = fields.String(metadata={"enum": values(WebhookDeliveryStatus)})
    attempts = fields.Integer(metadata={"description": "attempts since it was made or replayed"})
    next_attempt_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DeliveryQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(values(WebhookDeliveryStatus)))
    event_type = fields.String(validate=_EVENT_TYPE)
    event_id = fields.UUID()


class AttemptSchema(Schema):
    """One attempt of the delivery log."""

    id = fields.UUID()
    delivery_id = fields.UUID()
    endpoint_id = fields.UUID()
    event_id = fields.UUID()
    number = fields.Integer(metadata={"description": "the attempt's number in its delivery"})
    attempted_at = fields.DateTime()
    url = fields.String(metadata={"description": "where it was posted"})
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "the endpoint's answer; null: none came"}
    )
    latency_ms = fields.Integer()
    error = fields.String(allow_none=True, metadata={"description": "why no answer came"})
    response_body = fields.String(
        allow_none=True, metadata={"description": "the start of the endpoint's answer"}
    )
