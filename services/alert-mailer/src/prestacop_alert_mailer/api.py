"""The operator API: list open alerts, look at one, resolve it with a violation code.

Alerts hold plates and positions: reads need ``Authorization: Bearer <token>`` with the operator
token or the read-only ``MAILER_READ_TOKEN``; writes need the operator token. Also serves
``/healthz`` (``ok``, or 503 ``degraded``; the reasons go to the logs and ``/metrics``, not to
anonymous callers), ``/metrics`` (Prometheus: counters, no alert data) and the operator console
(:mod:`~prestacop_alert_mailer.console`) with the shared borough map (``/map/...``). Every
response of the console and the map carries :data:`prestacop_shared.web.SECURITY_HEADERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, field_validator

from prestacop_alert_mailer.auth import BearerTokens
from prestacop_alert_mailer.compose import map_url
from prestacop_alert_mailer.console import ConsoleSessions, add_console
from prestacop_alert_mailer.exceptions import (
    MissingPlate,
    PublishError,
    ResolutionConflict,
    UnknownAlert,
)
from prestacop_alert_mailer.health import Health
from prestacop_alert_mailer.live import LiveFeed
from prestacop_alert_mailer.metrics import MailerMetrics
from prestacop_alert_mailer.resolve import Decision, Resolver
from prestacop_alert_mailer.store import (
    AlertStatus,
    AlertStore,
    DeliveryStatus,
    PendingResolution,
    StoredAlert,
)
from prestacop_shared.events import AlertReason
from prestacop_shared.exceptions import UnknownViolationCode
from prestacop_shared.violation_codes import load_violation_codes
from prestacop_shared.web import SecurityHeaders, mount_nyc_map


class ResolveRequest(BaseModel):
    """An operator's decision on an alert."""

    violation_code: int = Field(description="DOF violation code", examples=[21])
    operator: str = Field(min_length=1, max_length=128, examples=["jdoe"])
    plate_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="The plate read on the image; required when the alert has none",
    )

    @field_validator("violation_code")
    @classmethod
    def _known_code(cls, value: int) -> int:
        if value not in load_violation_codes():
            raise ValueError(f"violation code {value} is not in the DOF violation-code table")
        return value


class ResolutionView(BaseModel):
    """How an alert was resolved."""

    violation_code: int
    violation_definition: str
    operator: str
    plate_id: str
    resolved_at: datetime
    violation_event_id: str
    resolution_event_id: str


class AlertView(BaseModel):
    """An alert as operators see it."""

    alert_id: str
    status: AlertStatus
    drone_id: str
    emitted_at: datetime
    latitude: float
    longitude: float
    map_url: str
    image_id: str
    reason: AlertReason
    detail: str
    plate_id: str | None
    received_at: datetime
    delivery: DeliveryStatus = Field(description="pending, emailed, or dead_lettered")
    emailed_at: datetime | None
    message_id: str | None
    refused_recipients: dict[str, str] = Field(
        description="recipients the SMTP server refused while it accepted the email for others"
    )
    sends_in_doubt: int = Field(
        description="sends that got no reply to DATA: that many extra copies may have arrived"
    )
    send_failure: str | None = Field(description="why the email was given up (dead-lettered)")
    resolution: ResolutionView | None


class HealthView(BaseModel):
    """``/healthz``: ``ok`` or ``degraded`` (the reasons are in the logs and ``/metrics``)."""

    status: str


def _resolution_view(pending: PendingResolution) -> ResolutionView:
    codes = load_violation_codes()
    code = pending.violation.violation_code
    return ResolutionView(
        violation_code=code,
        violation_definition=codes[code].definition if code in codes else "",
        operator=pending.resolution.operator,
        plate_id=pending.violation.plate_id,
        resolved_at=pending.resolution.emitted_at,
        violation_event_id=pending.violation.event_id,
        resolution_event_id=pending.resolution.event_id,
    )


def _alert_view(stored: StoredAlert) -> AlertView:
    alert = stored.alert
    resolution = stored.resolution
    return AlertView(
        alert_id=alert.alert_id,
        status=stored.status,
        drone_id=alert.drone_id,
        emitted_at=alert.emitted_at,
        latitude=alert.latitude,
        longitude=alert.longitude,
        map_url=map_url(alert.latitude, alert.longitude),
        image_id=alert.image_id,
        reason=alert.reason,
        detail=alert.detail,
        plate_id=alert.plate_id,
        received_at=stored.received_at,
        delivery=stored.delivery,
        emailed_at=stored.emailed_at,
        message_id=stored.message_id,
        refused_recipients=stored.refused_recipients or {},
        sends_in_doubt=stored.sends_in_doubt,
        send_failure=stored.failure,
        resolution=(_resolution_view(resolution) if resolution and resolution.published else None),
    )


def create_app(
    *,
    store: AlertStore,
    resolver: Resolver,
    health: Health,
    metrics: MailerMetrics,
    operator_token: str,
    read_token: str | None = None,
    feed: LiveFeed | None = None,
    console_sessions: ConsoleSessions | None = None,
    secure_cookie: bool = False,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """Build the operator API and console around the mailer's state.

    ``read_token`` (optional) opens the reads, not the writes; the operator token opens both.
    ``feed`` carries the alert changes to the console's live stream, whose sessions
    (``console_sessions``, 15 minutes by default) set their cookie ``Secure`` if ``secure_cookie``.
    """
    app = FastAPI(
        title="Prestacop alert mailer — operator API",
        description="Alerts drones could not classify; resolve them with a DOF violation code.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders, paths=("/console", "/map"))

    require_operator = BearerTokens(operator_token)
    require_reader = BearerTokens(operator_token, *([read_token] if read_token else []))
    unauthorized: dict[int | str, dict[str, Any]] = {
        401: {"description": "missing or invalid bearer token"}
    }

    @app.get(
        "/alerts",
        response_model=list[AlertView],
        dependencies=[Depends(require_reader)],
        responses={**unauthorized},
        tags=["alerts"],
    )
    def list_alerts(
        status_filter: Annotated[AlertStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AlertView]:
        """Alerts, newest first; ``?status=open`` for those awaiting an operator."""
        return [_alert_view(stored) for stored in store.list_alerts(status_filter, limit=limit)]

    @app.get(
        "/alerts/{alert_id}",
        response_model=AlertView,
        dependencies=[Depends(require_reader)],
        responses={**unauthorized, 404: {"description": "unknown alert"}},
        tags=["alerts"],
    )
    def get_alert(alert_id: str) -> AlertView:
        """One alert, with its resolution once resolved."""
        stored = store.get(alert_id)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r} received")
        return _alert_view(stored)

    @app.post(
        "/alerts/{alert_id}/resolve",
        response_model=ResolutionView,
        status_code=status.HTTP_201_CREATED,
        dependencies=[Depends(require_operator)],
        responses={
            **unauthorized,
            404: {"description": "unknown alert"},
            409: {"description": "already resolved; the body holds the standing resolution"},
            422: {"description": "unknown violation code, or a plate is needed"},
            503: {"description": "Kafka did not take the events; retry"},
        },
        tags=["alerts"],
    )
    def resolve_alert(alert_id: str, request: ResolveRequest) -> Any:
        """Resolve an alert: publishes the operator's violation, once."""
        decision = Decision(request.violation_code, request.operator, request.plate_id)
        try:
            pending = resolver.resolve(alert_id, decision)
        except UnknownAlert as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        except (UnknownViolationCode, MissingPlate) as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        except ResolutionConflict as error:
            existing = error.existing
            assert isinstance(existing, PendingResolution)  # noqa: S101
            return JSONResponse(
                status_code=status.HTTP_409_CONFLICT,
                content={
                    "detail": str(error),
                    "resolution": _resolution_view(existing).model_dump(mode="json"),
                },
            )
        except PublishError as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
        metrics.resolutions.inc()
        return _resolution_view(pending)

    @app.get(
        "/healthz",
        response_model=HealthView,
        responses={503: {"model": HealthView, "description": "degraded"}},
        tags=["operations"],
    )
    def healthz() -> JSONResponse:
        """``ok`` while SMTP accepts mail and the consumer runs; 503 ``degraded`` otherwise."""
        degraded = not health.healthy
        view = HealthView(status="degraded" if degraded else "ok")
        code = status.HTTP_503_SERVICE_UNAVAILABLE if degraded else status.HTTP_200_OK
        return JSONResponse(status_code=code, content=view.model_dump())

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus exposition of the mailer's metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    mount_nyc_map(app)
    add_console(
        app,
        store=store,
        feed=feed or LiveFeed(),
        sessions=console_sessions or ConsoleSessions(ttl_s=900),
        require_reader=require_reader,
        view=_alert_view,
        secure_cookie=secure_cookie,
    )
    return app
