"""/api/v1/webhooks: a merchant's endpoints, their signing secrets and delivery logs."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.payments import webhooks
from vetrina.payments.models import WebhookDelivery, WebhookEndpoint
from vetrina.web.api.schemas import ShownText
from vetrina.web.deps import RowId, db_session, get_context, required_user
from vetrina.web.idempotent import run_once

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(None, max_length=200, description="whsec_<base64>; omit for a fresh random one.")


class EndpointOut(BaseModel):
    id: int
    url: str
    active: bool
    secret: str = Field(description="Signs each delivery (Standard Webhooks); keep it private.")
    created_at: datetime


class DeliveryOut(BaseModel):
    message_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: ShownText | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id, url=endpoint.url, active=endpoint.active, secret=endpoint.secret, created_at=endpoint.created_at
    )


def delivery_out(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        message_id=d.message_id,
        event_type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        next_attempt_at=d.next_attempt_at,
    )


@router.post("", status_code=201, response_model=EndpointOut, summary="Register an endpoint for order events")
def register(
    request: Request, body: EndpointIn, user: User = required_user, session: Session = db_session
) -> EndpointOut:
    allow_private = get_context(request).settings.webhook_allow_private
    return endpoint_out(webhooks.register_endpoint(session, user, body.url, allow_private))


@router.get("", response_model=list[EndpointOut], summary="Your endpoints")
def list_endpoints(user: User = required_user, session: Session = db_session) -> list[EndpointOut]:
    return [endpoint_out(e) for e in webhooks.list_endpoints(session, user)]


@router.post("/{endpoint_id}/secret", response_model=EndpointOut, summary="Change the signing secret")
def change_secret(request: Request, endpoint_id: RowId, body: SecretIn, user: User = required_user) -> JSONResponse:
    return run_once(
        request, user, body, lambda s: endpoint_out(webhooks.change_secret(s, endpoint_id, user, body.secret))
    )


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryOut], summary="The delivery log, newest first")
def deliveries(endpoint_id: RowId, user: User = required_user, session: Session = db_session) -> list[DeliveryOut]:
    endpoint = webhooks.endpoint_for_change(session, endpoint_id, user)
    return [delivery_out(d) for d in webhooks.deliveries_for(session, endpoint)]


@router.delete("/{endpoint_id}", status_code=204, summary="Stop sending to an endpoint")
def remove(endpoint_id: RowId, user: User = required_user, session: Session = db_session) -> Response:
    session.delete(webhooks.endpoint_for_change(session, endpoint_id, user))
    return Response(status_code=204)
