"""Per-endpoint guards for outbound HTTP calls: rate limit and concurrency cap (the circuit
that makes deliveries wait while an endpoint is down is the core's: ``hub.delivery.circuit``).

Where the state lives: a Celery prefork worker runs several processes, and a site may run
several workers, so a limit kept in one process's memory would let N processes send N times
the agreed rate. The state is therefore kept in the hub's database (the one store every
process already shares; no Redis needed), in two small tables keyed by endpoint name:

- ``endpoint_rate_limits``: one row per endpoint holding the GCRA "theoretical arrival time"
  (the generic cell rate algorithm, a token bucket in one number). A caller books the next
  send time with one ``UPDATE ... RETURNING`` (the ``gcra`` rule in SQL): concurrent callers
  queue on the row lock, so the limit holds across every process and host. The caller then
  sleeps until its booked time.
- ``endpoint_slots``: ``max_concurrency`` rows per endpoint, leased by callers for the length
  of one call (lease = timeout + margin, so a killed worker's slot frees itself).

Each guard costs one short transaction per call; endpoints without
guards touch no table. ``LocalGuards`` keeps the same state in process memory: used when no
database is at hand (``hub routes test``, a sender built outside the hub); its limits hold
per process only.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Protocol

from sqlalchemy import Connection, Float, Integer, String, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import Base, Database

PROBE_MARGIN = 30.0  # seconds a slot lease outlives the call's timeout


class EndpointRate(Base):
    __tablename__ = "endpoint_rate_limits"

    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    tat: Mapped[float] = mapped_column(Float(precision=53), default=0.0)  # epoch seconds


class EndpointSlot(Base):
    __tablename__ = "endpoint_slots"

    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[float | None] = mapped_column(Float(precision=53))


# -- the rules, independent of where the state is kept -------------------------------------------

def gcra(tat: float, now: float, per_second: float, burst: int, max_wait: float) -> tuple[float, float] | None:
    """(new theoretical arrival time, seconds to wait) for one call, or None when the wait
    would exceed ``max_wait`` (nothing is reserved then)."""
    interval = 1.0 / per_second
    tolerance = (burst - 1) * interval
    start = max(tat, now)
    wait = start - tolerance - now
    if wait > max_wait:
        return None
    return start + interval, max(0.0, wait)


# -- where the state is kept ---------------------------------------------------------------------

class Guards(Protocol):
    def reserve(self, endpoint: str, per_second: float, burst: int, max_wait: float) -> float | None: ...

    def acquire(self, endpoint: str, slots: int, lease: float) -> str | None: ...

    def release(self, endpoint: str, token: str) -> None: ...


def _free_slot(held: dict[int, tuple[str | None, float | None]], slots: int, now: float) -> int | None:
    for slot in range(slots):
        holder, expires = held.get(slot, (None, None))
        if holder is None or (expires is not None and expires < now):
            return slot
    return None


class LocalGuards:
    """The guards' state in this process's memory (limits hold per process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tat: dict[str, float] = {}
        self._slots: dict[str, dict[int, tuple[str | None, float | None]]] = {}

    def reserve(self, endpoint: str, per_second: float, burst: int, max_wait: float) -> float | None:
        with self._lock:
            got = gcra(self._tat.get(endpoint, 0.0), time.time(), per_second, burst, max_wait)
            if got is None:
                return None
            self._tat[endpoint] = got[0]
            return got[1]

    def acquire(self, endpoint: str, slots: int, lease: float) -> str | None:
        with self._lock:
            held = self._slots.setdefault(endpoint, {})
            now = time.time()
            slot = _free_slot(held, slots, now)
            if slot is None:
                return None
            token = uuid.uuid4().hex
            held[slot] = (token, now + lease)
            return token

    def release(self, endpoint: str, token: str) -> None:
        with self._lock:
            held = self._slots.get(endpoint, {})
            for slot, (holder, _) in list(held.items()):
                if holder == token:
                    held[slot] = (None, None)


def _clock(conn: Connection):
    """Epoch seconds as the database sees them when the expression runs (PostgreSQL evaluates
    it after waiting for the row lock); SQLite writers are serialised before the statement, so
    this process's clock read inside the transaction is as fresh."""
    if conn.dialect.name == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()), Float(precision=53))
    return literal(time.time(), Float(precision=53))


def _insert_missing(conn: Connection, model: type[Base], rows: list[dict]) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(model).values(rows).on_conflict_do_nothing())


class DatabaseGuards:
    """The guards' state in the hub's database, shared by every process (see module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._slots_made: set[tuple[str, int]] = set()

    def _locked(self, session: Session, model: type[Base], key, **defaults):
        query = select(model).where(*(getattr(model, k) == v for k, v in key.items())).with_for_update()
        row = session.scalars(query).first()
        if row is None:
            _insert_missing(session.connection(), model, [defaults])
            row = session.scalars(query).one()
        return row

    def reserve(self, endpoint: str, per_second: float, burst: int, max_wait: float) -> float | None:
        # ``gcra`` in one UPDATE ... RETURNING, on the database's clock: the row lock makes
        # concurrent bookings queue, and "now" is read after the lock, never before it (a
        # stale "now" would anchor the schedule in the past and let a burst through).
        interval = 1.0 / per_second
        tolerance = (burst - 1) * interval
        with self.db.engine.begin() as conn:
            now = _clock(conn)
            start = case((EndpointRate.tat > now, EndpointRate.tat), else_=now)
            book = (update(EndpointRate)
                    .where(EndpointRate.endpoint == endpoint, start - tolerance - now <= max_wait)
                    .values(tat=start + interval).returning(EndpointRate.tat, now))
            booked = conn.execute(book).first()
            if booked is None:  # no row yet (first call) or booked beyond max_wait: make sure, then once more
                _insert_missing(conn, EndpointRate, [{"endpoint": endpoint, "tat": 0.0}])
                booked = conn.execute(book).first()
        if booked is None:
            return None
        tat, at = booked
        return max(0.0, tat - interval - tolerance - at)

    def acquire(self, endpoint: str, slots: int, lease: float) -> str | None:
        now = time.time()
        token = uuid.uuid4().hex
        free = (select(EndpointSlot.slot)
                .where(EndpointSlot.endpoint == endpoint, EndpointSlot.slot < slots,
                       or_(EndpointSlot.holder.is_(None), EndpointSlot.expires_at < now))
                .order_by(EndpointSlot.slot).limit(1).with_for_update(skip_locked=True).scalar_subquery())
        take = (update(EndpointSlot).where(EndpointSlot.endpoint == endpoint, EndpointSlot.slot == free)
                .values(holder=token, expires_at=now + lease).returning(EndpointSlot.slot))
        with self.db.engine.begin() as conn:
            if (endpoint, slots) not in self._slots_made:
                _insert_missing(conn, EndpointSlot, [{"endpoint": endpoint, "slot": i} for i in range(slots)])
                self._slots_made.add((endpoint, slots))
            slot = conn.execute(take).scalar_one_or_none()
        return None if slot is None else token

    def release(self, endpoint: str, token: str) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(EndpointSlot).where(EndpointSlot.endpoint == endpoint, EndpointSlot.holder == token)
                         .values(holder=None, expires_at=None))
