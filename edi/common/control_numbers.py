"""Control numbers for outbound EDI, shared by the X12 and EDIFACT engines.

One counter per (standard, kind, sender, receiver, scope): ``kind`` is ``interchange`` (ISA13 /
UNB 0020), ``group`` (GS06 / UNG 0048, scope = functional id) or ``transaction`` (ST02 / UNH
0062, scope = functional id or message type). Counters live in the database so every worker
process shares them, are never reset per file (domain.md 4.1), and wrap from 999,999,999 to 1.

Allocation is atomic without application locks: each call runs in its own transaction —
``INSERT ... ON CONFLICT DO NOTHING`` creates the row the first time, then a single ``UPDATE ...
SET next_value = ... RETURNING next_value`` reserves ``n`` numbers. PostgreSQL's row lock makes
concurrent updates queue; on SQLite the engine opens every transaction with ``BEGIN IMMEDIATE``
(``hub.db``), which serialises writers the same way. So concurrent workers never reuse or skip
a number, and a range (``n > 1``) is contiguous except where it wraps.

Writers take numbers from a ``NumberSource``: ``AllocatedNumbers`` (this allocator, per
sender/receiver pair of an engine profile: what the hub uses when it sends) or
``PreviewNumbers`` (in memory from 1, nothing reserved: CLI previews and tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from sqlalchemy import BigInteger, String, UniqueConstraint, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, Database
from hub.store.models import BigId, UTCDateTime, utcnow

MAX_CONTROL_NUMBER = 999_999_999
INTERCHANGE, GROUP, TRANSACTION = "interchange", "group", "transaction"


class ControlCounter(Base):
    __tablename__ = "edi_control_counters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    standard: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(64))
    receiver: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(32), default="")
    next_value: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("standard", "kind", "sender", "receiver", "scope",
                                       name="uq_edi_control_counters_key"),)


@dataclass(frozen=True)
class CounterKey:
    """Which counter. ``sender``/``receiver`` are ``qualifier:id`` strings (``ZZ:HOSPITAL``)."""

    standard: str
    kind: str
    sender: str
    receiver: str
    scope: str = ""

    def values(self) -> dict[str, str]:
        return {"standard": self.standard, "kind": self.kind, "sender": self.sender,
                "receiver": self.receiver, "scope": self.scope}


def party(qualifier: str, identifier: str) -> str:
    return f"{qualifier.strip()}:{identifier.strip()}"


class ControlNumbers:
    """The allocator. Thread- and process-safe; each call is one short transaction."""

    def __init__(self, db: Database, *, maximum: int = MAX_CONTROL_NUMBER) -> None:
        self.db = db
        self.maximum = maximum

    def allocate(self, key: CounterKey, n: int = 1) -> list[int]:
        """Reserve ``n`` consecutive numbers (wrapping after ``maximum`` to 1)."""
        if not 1 <= n <= self.maximum:
            raise ValueError(f"can allocate 1 to {self.maximum} numbers at once, not {n}")
        table = ControlCounter.__table__
        with self.db.engine.begin() as conn:
            conn.execute(self._insert_if_missing(conn.dialect.name, key))
            new_next = conn.execute(
                update(table).where(*self._match(key))
                .values(next_value=(table.c.next_value - 1 + n) % self.maximum + 1, updated_at=utcnow())
                .returning(table.c.next_value)
            ).scalar_one()
        first = (new_next - 1 - n) % self.maximum + 1
        return [(first - 1 + i) % self.maximum + 1 for i in range(n)]

    def next(self, key: CounterKey) -> int:
        return self.allocate(key, 1)[0]

    def peek(self, key: CounterKey) -> int:
        """The number the next allocation would return (1 for a counter not yet used)."""
        table = ControlCounter.__table__
        with self.db.engine.connect() as conn:
            value = conn.execute(table.select().with_only_columns(table.c.next_value)
                                 .where(*self._match(key))).scalar()
        return value or 1

    def set_next(self, key: CounterKey, value: int) -> None:
        """Seed a counter, e.g. to continue a partner relationship moved from another system."""
        if not 1 <= value <= self.maximum:
            raise ValueError(f"control numbers run from 1 to {self.maximum}, not {value}")
        table = ControlCounter.__table__
        with self.db.engine.begin() as conn:
            conn.execute(self._insert_if_missing(conn.dialect.name, key))
            conn.execute(update(table).where(*self._match(key)).values(next_value=value, updated_at=utcnow()))

    @staticmethod
    def _match(key: CounterKey) -> list:
        c = ControlCounter.__table__.c
        return [c.standard == key.standard, c.kind == key.kind, c.sender == key.sender,
                c.receiver == key.receiver, c.scope == key.scope]

    @staticmethod
    def _insert_if_missing(dialect: str, key: CounterKey):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return (insert(ControlCounter.__table__)
                .values(**key.values(), next_value=1, updated_at=utcnow())
                .on_conflict_do_nothing(index_elements=["standard", "kind", "sender", "receiver", "scope"]))


class NumberSource(Protocol):
    def take(self, kind: str, scope: str, n: int = 1) -> list[int]: ...


class PreviewNumbers:
    """In-memory numbering from 1 (nothing is reserved)."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], int] = {}

    def take(self, kind: str, scope: str, n: int = 1) -> list[int]:
        start = self._next.get((kind, scope), 1)
        self._next[(kind, scope)] = start + n
        return list(range(start, start + n))


class EnvelopeProfile(Protocol):
    """What ``AllocatedNumbers`` needs of an engine profile (``X12Profile``, ``EdifactProfile``)."""

    STANDARD: ClassVar[str]
    sender_qualifier: str | None
    sender_id: str
    receiver_qualifier: str | None
    receiver_id: str


class AllocatedNumbers:
    """Numbers from the database allocator, one counter set per standard and sender/receiver
    pair of the profile: interchange (ISA13 / UNB 0020), group (GS06) and transaction (ST02 /
    UNH 0062) numbers, the scope naming the functional id or message type."""

    def __init__(self, allocator: ControlNumbers, profile: EnvelopeProfile) -> None:
        self.allocator = allocator
        self.standard = profile.STANDARD
        self.sender = party(profile.sender_qualifier or "", profile.sender_id)
        self.receiver = party(profile.receiver_qualifier or "", profile.receiver_id)

    def take(self, kind: str, scope: str, n: int = 1) -> list[int]:
        return self.allocator.allocate(CounterKey(self.standard, kind, self.sender, self.receiver, scope), n)
