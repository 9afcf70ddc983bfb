"""Live updates for the operator console: which alerts changed, pushed to open pages (SSE).

The consumer thread announces each new alert it records, the resolver each resolution it
publishes; every open console stream gets the alert's id and then reads the alert's current
state from the store. Best effort and in memory: a console that connects (or reconnects, or
falls behind by :data:`QUEUE_LIMIT` changes) is told to ``resync`` and reloads the open alerts
over the API, so a missed announcement costs a reload, never a stale list.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Final

logger = logging.getLogger(__name__)

QUEUE_LIMIT: Final = 1000
RESYNC: Final = ""
"""The pseudo alert id that asks a console to reload its list (never a real alert id)."""
_CLOSED: Final = None


@dataclass(eq=False)
class Subscription:
    """One open console stream: the alert ids to announce, in order (``None`` once closed)."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )

    def _offer(self, alert_id: str | None) -> None:
        try:
            self.queue.put_nowait(alert_id)
        except asyncio.QueueFull:  # a stalled page: drop the backlog, make it reload instead
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC if alert_id is not _CLOSED else _CLOSED)

    async def next(self) -> str | None:
        """The next changed alert's id, :data:`RESYNC`, or ``None`` once the feed is closed."""
        return await self.queue.get()


class LiveFeed:
    """Fan-out of alert changes from any thread to the console streams (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self.closed = False

    def subscribe(self) -> Subscription:
        """Open a subscription on the running event loop (call from a request handler)."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            if self.closed:
                subscription._offer(_CLOSED)
            else:
                self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (its stream ended)."""
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        """How many console streams are open."""
        with self._lock:
            return len(self._subscriptions)

    def announce(self, alert_id: str) -> None:
        """Tell every open console that this alert is new or changed."""
        self._send(alert_id)

    def close(self) -> None:
        """End every stream (at shutdown, so that the HTTP server can stop)."""
        with self._lock:
            self.closed = True
        self._send(_CLOSED)

    def _send(self, alert_id: str | None) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            try:
                subscription.loop.call_soon_threadsafe(subscription._offer, alert_id)
            except RuntimeError:  # its loop is closed: the stream is gone
                self.unsubscribe(subscription)
