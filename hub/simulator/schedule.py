"""Business time, compressed: a scenario says "the 855 four hours after the order, the invoice
three days later"; the simulator can play that in real time or in seconds.

Why it matters: the SLA clocks and the documents' dates are about business time — a ship
date, an expiry, an acknowledgement due within 24 hours — while a demo or a test cannot wait
three days. ``day`` is how many real seconds one business day lasts (86400: real time; 2: a
day in two seconds; 0: everything at once). Documents carry the business dates; files leave
when the compressed clock says so.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DAY = 86400.0


@dataclass
class Timeline:
    """Business time since ``start`` (a real, aware datetime: when the order reached the
    supplier) and the real moment each business offset falls due."""

    start: datetime
    day: float = DAY
    started: float = field(default_factory=time.monotonic)

    def at(self, offset: float) -> datetime:
        """The business datetime ``offset`` seconds after the start (documents' dates)."""
        return self.start + timedelta(seconds=offset)

    def due(self, offset: float) -> float:
        """The ``time.monotonic()`` moment the event at ``offset`` is due."""
        return self.started + offset * self.day / DAY

    def wait(self, offset: float, stop: threading.Event | None = None) -> bool:
        """Sleep until ``offset`` is due; False when ``stop`` was set first."""
        delay = self.due(offset) - time.monotonic()
        if delay <= 0:
            return True
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)
