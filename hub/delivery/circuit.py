"""The endpoint circuit: an endpoint that is down makes its deliveries wait instead of spending
their attempts.

Why: an ERP that is down for ten minutes is not a reason to park three hundred documents. A
failure that belongs to the endpoint — connection refused or reset, a timeout, DNS or TLS
failing, 502/503/504, 429 — is an *outage*; it opens the endpoint's circuit after
``failures`` consecutive outage answers (a 429, or any answer with ``Retry-After``, opens it at once). While
it is open no delivery calls the endpoint: each one waits in the store (``waiting``). The
endpoint is probed with one delivery at a time, after ``probe_initial`` and then twice as
long after each failed probe, never longer than ``probe_max`` (30 s by default, so a
recovery is noticed within a minute). A probe that gets through closes the circuit and the
scheduler releases every waiting delivery (``hub.delivery.schedule``). An outage longer than
``max_outage`` (24 h by default) parks the waiting deliveries as ``endpoint_unavailable``.

States: ``closed`` → ``open`` (after the threshold) → ``half_open`` (one probe in flight, for
at most its lease) → ``closed`` on success, ``open`` again on failure.

Where the state lives: in the hub's database (``endpoint_circuits``, one row per endpoint),
because every worker process on every host must see the same circuit. ``LocalCircuits``
keeps it in memory for code that runs without a database (``hub routes test``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from sqlalchemy import Float, Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import Base, Database
from hub.routes.model import CircuitPolicy
from hub.store.models import UTCDateTime, utcnow

CircuitStateName = Literal["closed", "open", "half_open"]


class EndpointCircuit(Base):
    __tablename__ = "endpoint_circuits"

    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive outage answers
    opened_at: Mapped[float | None] = mapped_column(Float(precision=53))  # last (re)opening, epoch s
    probe_until: Mapped[float | None] = mapped_column(Float(precision=53))  # half-open: the probe's lease
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    down_since: Mapped[float | None] = mapped_column(Float(precision=53))  # first opening of this outage
    probes: Mapped[int] = mapped_column(Integer, default=0)  # failed probes in this outage
    not_before: Mapped[float | None] = mapped_column(Float(precision=53))  # an endpoint's Retry-After
    last_error: Mapped[str | None] = mapped_column(String(500))


@dataclass
class Circuit:
    state: CircuitStateName = "closed"
    failures: int = 0
    opened_at: float | None = None
    probe_until: float | None = None
    down_since: float | None = None
    probes: int = 0
    not_before: float | None = None
    last_error: str | None = None

    def next_probe_at(self, policy: CircuitPolicy) -> float | None:
        """When the next probe may go out (None while closed)."""
        if self.state == "closed":
            return None
        delay = min(policy.probe_max, policy.probe_initial * (2 ** min(self.probes, 30)))
        due = (self.opened_at or 0.0) + delay
        return max(due, self.not_before or 0.0)

    def describe(self, policy: CircuitPolicy, now: float | None = None) -> str:
        if self.state == "closed":
            return "closed"
        now = time.time() if now is None else now
        since = datetime.fromtimestamp(self.down_since or self.opened_at or now, UTC).isoformat(timespec="seconds")
        text = f"{self.state} since {since} ({_age(now - (self.down_since or now))})"
        probe = self.next_probe_at(policy)
        if self.state == "open" and probe is not None:
            text += f", next probe in {max(0.0, probe - now):.0f}s"
        return text + (f"; last error: {self.last_error}" if self.last_error else "")


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


@dataclass(frozen=True)
class Admission:
    allowed: bool
    probe: bool = False
    reason: str = ""


# -- the rules, independent of where the state is kept -------------------------------------------

def admit(c: Circuit, now: float, policy: CircuitPolicy, probe_lease: float) -> Admission:
    """May a call go out? An open circuit whose probe is due lets this caller through as the
    probe (half-open); a probe that never reported back is replaced after its lease."""
    if c.state == "closed":
        return Admission(True)
    if c.state == "open":
        due = c.next_probe_at(policy) or 0.0
        if now < due:
            return Admission(False, reason=c.describe(policy, now))
    elif c.probe_until is not None and now < c.probe_until:
        return Admission(False, reason="half-open: a probe call is in flight")
    c.state, c.probe_until = "half_open", now + probe_lease
    return Admission(True, probe=True)


def record(c: Circuit, ok: bool | None, probe: bool, now: float, policy: CircuitPolicy, *,
           retry_after: float | None = None, error: str | None = None) -> None:
    """A call's result: True the endpoint answered (delivered, or a business answer about this
    document), False an outage, None no call was made after all (an admitted probe gives its
    turn back)."""
    if ok is None:
        if probe and c.state == "half_open":
            c.state, c.probe_until = "open", None
        return
    if ok:
        c.state, c.failures, c.opened_at, c.probe_until = "closed", 0, None, None
        c.down_since, c.probes, c.not_before, c.last_error = None, 0, None, None
        return
    c.failures += 1
    c.last_error = (error or "")[:500] or None
    if retry_after is not None:
        c.not_before = now + retry_after
    if c.state == "half_open" or (probe and c.state != "closed"):
        c.state, c.opened_at, c.probe_until = "open", now, None
        c.probes += 1
        if c.down_since is None:
            c.down_since = now
    elif c.state == "closed" and (c.failures >= policy.failures or retry_after is not None):
        c.state, c.opened_at, c.probe_until, c.down_since, c.probes = "open", now, None, now, 0


# -- where the state is kept ---------------------------------------------------------------------

class Circuits(Protocol):
    def admit(self, endpoint: str, policy: CircuitPolicy, probe_lease: float) -> Admission: ...

    def record(self, endpoint: str, ok: bool | None, probe: bool, policy: CircuitPolicy, *,
               retry_after: float | None = None, error: str | None = None) -> None: ...

    def get(self, endpoint: str) -> Circuit: ...


class LocalCircuits:
    """Circuits in this process's memory (they hold per process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._circuits: dict[str, Circuit] = {}

    def admit(self, endpoint: str, policy: CircuitPolicy, probe_lease: float) -> Admission:
        with self._lock:
            return admit(self._circuits.setdefault(endpoint, Circuit()), time.time(), policy, probe_lease)

    def record(self, endpoint: str, ok: bool | None, probe: bool, policy: CircuitPolicy, *,
               retry_after: float | None = None, error: str | None = None) -> None:
        with self._lock:
            record(self._circuits.setdefault(endpoint, Circuit()), ok, probe, time.time(), policy,
                   retry_after=retry_after, error=error)

    def get(self, endpoint: str) -> Circuit:
        return self._circuits.get(endpoint, Circuit())


_FIELDS = ("state", "failures", "opened_at", "probe_until", "down_since", "probes", "not_before", "last_error")


class DatabaseCircuits:
    """Circuits in the hub's database, shared by every process (see the module doc). The
    common case — a closed circuit with nothing to record — reads one row without a lock."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _change(self, endpoint: str, change):
        with self.db.session() as session:
            row = self._locked(session, endpoint)
            c = Circuit(**{f: getattr(row, f) for f in _FIELDS})
            result = change(c)
            if any(getattr(c, f) != getattr(row, f) for f in _FIELDS):
                for f in _FIELDS:
                    setattr(row, f, getattr(c, f))
                row.updated_at = utcnow()
            return result

    @staticmethod
    def _locked(session: Session, endpoint: str) -> EndpointCircuit:
        query = select(EndpointCircuit).where(EndpointCircuit.endpoint == endpoint).with_for_update()
        row = session.scalars(query).first()
        if row is None:
            insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
            session.execute(insert(EndpointCircuit).values(endpoint=endpoint, state="closed", failures=0, probes=0,
                                                           updated_at=utcnow()).on_conflict_do_nothing())
            row = session.scalars(query).one()
        return row

    def admit(self, endpoint: str, policy: CircuitPolicy, probe_lease: float) -> Admission:
        if self.get(endpoint).state == "closed":
            return Admission(True)
        return self._change(endpoint, lambda c: admit(c, time.time(), policy, probe_lease))

    def record(self, endpoint: str, ok: bool | None, probe: bool, policy: CircuitPolicy, *,
               retry_after: float | None = None, error: str | None = None) -> None:
        if ok and not probe and self.get(endpoint) == Circuit():
            return  # closed with nothing counted: nothing to write
        self._change(endpoint, lambda c: record(c, ok, probe, time.time(), policy, retry_after=retry_after,
                                                error=error))

    def get(self, endpoint: str) -> Circuit:
        with self.db.read() as session:
            row = session.get(EndpointCircuit, endpoint)
            return Circuit(**{f: getattr(row, f) for f in _FIELDS}) if row else Circuit()

    def all(self) -> dict[str, Circuit]:
        with self.db.read() as session:
            return {row.endpoint: Circuit(**{f: getattr(row, f) for f in _FIELDS})
                    for row in session.scalars(select(EndpointCircuit))}
