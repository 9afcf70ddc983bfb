"""An operator resolves an alert: the decision becomes a ``Violation`` and an ``AlertResolution``.

Idempotent: both event ids derive from the alert id, the decision is saved in the state before
it is published, and the first decision stands. Resolving an alert twice never publishes a second
violation; a retry after a failed publish republishes the very same events.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from prestacop_alert_mailer.exceptions import MissingPlate, ResolutionConflict, UnknownAlert
from prestacop_alert_mailer.publisher import ResolutionPublisher
from prestacop_alert_mailer.store import AlertStore, PendingResolution
from prestacop_shared.events import AlertResolution, Violation, ViolationSource, utc_now
from prestacop_shared.violation_codes import violation_code

logger = logging.getLogger(__name__)

_RESOLUTION_NAMESPACE = uuid.UUID("0b6a3f7e-8d1c-4f0e-a7c9-3e2d51f4b8a6")


def violation_event_id(alert_id: str) -> str:
    """The event id of the violation an operator makes of an alert (same alert, same id).

    Example:
        >>> violation_event_id("a1") == violation_event_id("a1") != violation_event_id("a2")
        True
    """
    return uuid.uuid5(_RESOLUTION_NAMESPACE, f"violation:{alert_id}").hex


def resolution_event_id(alert_id: str) -> str:
    """The event id of an alert's resolution (same alert, same id)."""
    return uuid.uuid5(_RESOLUTION_NAMESPACE, f"resolution:{alert_id}").hex


@dataclass(frozen=True)
class Decision:
    """What the operator says about an alert."""

    violation_code: int
    operator: str
    plate_id: str | None = None


class Resolver:
    """Turns decisions into published events, one resolution per alert (thread-safe).

    ``on_resolved`` (e.g. :meth:`~prestacop_alert_mailer.live.LiveFeed.announce`) is called with
    the alert id once its resolution is published.
    """

    def __init__(
        self,
        store: AlertStore,
        publisher: ResolutionPublisher,
        on_resolved: Callable[[str], None] = lambda _alert_id: None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._on_resolved = on_resolved
        self._lock = threading.Lock()

    def resolve(self, alert_id: str, decision: Decision) -> PendingResolution:
        """Publish the operator's decision on an alert and return the resolution.

        Raises:
            UnknownAlert: no such alert was received.
            prestacop_shared.exceptions.UnknownViolationCode: the code is not in the DOF table.
            MissingPlate: the alert has no plate and the decision gives none.
            ResolutionConflict: the alert already has a resolution (``existing``), or a
                different decision saved earlier was still pending and has now been published.
            PublishError: Kafka did not commit the events; retrying is safe.
        """
        violation_code(decision.violation_code)
        with self._lock:
            stored = self._store.get(alert_id)
            if stored is None:
                raise UnknownAlert(f"no alert {alert_id!r} has been received")
            if stored.resolution is not None and stored.resolution.published:
                raise ResolutionConflict(f"alert {alert_id} is already resolved", stored.resolution)
            alert = stored.alert
            plate_id = decision.plate_id or alert.plate_id
            if not plate_id:
                raise MissingPlate(
                    f"alert {alert_id} has no readable plate: give plate_id, read from image "
                    f"{alert.image_id}"
                )
            now = utc_now()
            violation = Violation(
                event_id=violation_event_id(alert_id),
                drone_id=alert.drone_id,
                emitted_at=now,
                latitude=alert.latitude,
                longitude=alert.longitude,
                violation_code=decision.violation_code,
                plate_id=plate_id,
                image_id=alert.image_id,
                source=ViolationSource.OPERATOR,
                alert_id=alert_id,
            )
            resolution = AlertResolution(
                event_id=resolution_event_id(alert_id),
                drone_id=alert.drone_id,
                emitted_at=now,
                latitude=alert.latitude,
                longitude=alert.longitude,
                alert_id=alert_id,
                violation_code=decision.violation_code,
                operator=decision.operator,
                alert_emitted_at=alert.emitted_at,
                violation_event_id=violation.event_id,
            )
            standing = self._store.save_pending_resolution(violation, resolution)
            self._publisher.publish(standing.violation, standing.resolution)
            self._store.mark_resolution_published(alert_id)
            published = PendingResolution(standing.violation, standing.resolution, True)
        self._on_resolved(alert_id)
        logger.info(
            "alert resolved",
            extra={
                "alert_id": alert_id,
                "violation_code": standing.violation.violation_code,
                "operator": standing.resolution.operator,
            },
        )
        same_decision = (
            standing.violation.violation_code == violation.violation_code
            and standing.violation.plate_id == violation.plate_id
            and standing.resolution.operator == resolution.operator
        )
        if not same_decision:
            raise ResolutionConflict(
                f"alert {alert_id} had an earlier pending decision; it now stands", published
            )
        return published
