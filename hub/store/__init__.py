"""The message store: durable record of every inbound message and everything that happens to it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, insert, select
from sqlalchemy.orm import Session

from hub.ids import new_id
from hub.store.blobs import BlobStore
from hub.store.models import (
    DeadLetter,
    Delivery,
    DeliveryAttempt,
    DocumentRef,
    ExpectedAnswer,
    Message,
    MessageDocument,
    OutboxEntry,
    Replay,
    RouteRun,
    Stage,
    StoredDocument,
    utcnow,
)

__all__ = [
    "BlobStore", "DeadLetter", "Delivery", "DeliveryAttempt", "DocumentRef", "ExpectedAnswer", "Message",
    "MessageDocument", "MessageStore",
    "OutboxEntry", "Replay", "RouteRun", "Stage", "StoredDocument", "among", "insert_rows", "utcnow",
]

# Stages a message passes; `hub trace` prints them in time order.
STAGES = (
    "received", "published", "unrouted", "routed", "filtered", "held", "refused", "transformed", "delivered",
    "retrying", "failed", "waiting", "blocked", "resent", "swept", "dead_lettered", "replayed", "discarded",
    "edited",
)


def insert_rows(session: Session, model: type, rows: list[dict[str, Any]], *, ids: bool = False) -> list[int]:
    """Insert many rows of one table, one statement per set of keys; with ``ids``, return the
    serial ids the rows got, in the rows' order (the table's ``id`` column).

    Why not ``session.execute(insert(Model), rows)``: the ORM's bulk path works out each row's
    insert command in Python first, which profiling showed costing more than the rows' own
    round trip on the hot path (docs/backbone.md, "Where a document's time goes"). On
    PostgreSQL the rows go as one array per column (``INSERT … SELECT FROM unnest(…)``,
    ``_insert_unnest``): one statement of constant text instead of a bind and execute per row,
    about a third of the Python CPU of Core's ``executemany`` (it processes every row's
    parameters) and less work for the server. Elsewhere (SQLite), Core ``executemany``. Column
    defaults apply as they do there; rows that name different columns go in separate
    statements, as the ORM groups them."""
    groups: dict[tuple[str, ...], list[int]] = {}  # keys → the positions of the rows naming them
    for position, row in enumerate(rows):
        groups.setdefault(tuple(row), []).append(position)
    table = model.__table__
    dialect = session.get_bind().dialect
    given: list[int] = [0] * len(rows) if ids else []
    for keys, positions in groups.items():
        group = [rows[p] for p in positions]
        plan = _unnest_plan(table, keys, dialect) if dialect.name == "postgresql" and len(group) > 1 else None
        if plan is None:
            statement = insert(table)
            if not ids:
                session.execute(statement, group)
                continue
            made = session.execute(statement.returning(table.c.id, sort_by_parameter_order=True), group).scalars()
        elif not ids:
            session.connection().exec_driver_sql(plan.sql, plan.params(group))
            continue
        else:
            # The rows take their serial ids in the order given (ORDER BY n), so the ids returned,
            # sorted, are the rows' in order, whatever order RETURNING lists them in.
            returned = session.connection().exec_driver_sql(f"{plan.sql} RETURNING id", plan.params(group))
            made = sorted(returned.scalars())
        for position, row_id in zip(positions, made, strict=True):
            given[position] = row_id
    return given


@dataclass(frozen=True)
class _UnnestPlan:
    """One table's ``INSERT … SELECT FROM unnest(…)`` for rows with one set of keys: the SQL,
    and per column where its values come from (the rows, or the column's scalar default) and
    the bind processing SQLAlchemy would have applied to each value (a UTC datetime, a JSON
    wrapper)."""

    sql: str
    columns: tuple[tuple[str, bool, Any, Callable[[Any], Any] | None], ...]  # name, given, default, process

    def params(self, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for i, (name, given, default, process) in enumerate(self.columns):
            values = [row[name] for row in rows] if given else [default] * len(rows)
            out[f"c{i}"] = [process(v) for v in values] if process is not None else values
        return out


_plans: dict[tuple[str, tuple[str, ...], str], _UnnestPlan | None] = {}  # (table, keys, dialect+driver) →


def _unnest_plan(table, keys: tuple[str, ...], dialect) -> _UnnestPlan | None:
    """The plan for these keys (cached), or None where Core's ``executemany`` must do it: a
    missing column whose default is computed (a callable or a SQL expression), or a key that
    is not a column."""
    cache_key = (table.name, keys, f"{dialect.name}+{dialect.driver}")
    if cache_key in _plans:
        return _plans[cache_key]
    plan: _UnnestPlan | None = None
    names = set(table.columns.keys())
    if set(keys) <= names:
        columns, casts, computed = [], [], False
        for col in table.columns:
            given = col.key in keys
            if not given and col.default is None:
                continue  # NULL, a server default, or an autoincrement key: as executemany leaves it
            if not given and not col.default.is_scalar:
                computed = True
                break
            default = None if given else col.default.arg
            columns.append((col.key, given, default, col.type._cached_bind_processor(dialect)))
            casts.append(f"CAST(%(c{len(casts)})b AS {_array_of(col.type.compile(dialect=dialect))})")
        if not computed:
            quoted = ", ".join(dialect.identifier_preparer.quote(table.columns[name].name) for name, *_ in columns)
            aliases = ", ".join(f"u{i}" for i in range(len(columns)))
            # WITH ORDINALITY … ORDER BY: the rows get their serial ids in the order given (a
            # message's stages of one instant are listed by id).
            plan = _UnnestPlan(
                f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "
                f"SELECT {aliases} FROM unnest({', '.join(casts)}) WITH ORDINALITY AS rows({aliases}, n) ORDER BY n",
                tuple(columns))
    _plans[cache_key] = plan
    return plan


def _array_of(type_sql: str) -> str:
    """The array type the column's values are sent as. A string's length is left out: a cast to
    ``VARCHAR(36)`` would cut a longer value silently, where the insert's assignment refuses it
    (as it does a row of ``executemany``)."""
    return re.sub(r"^((?:VAR)?CHAR(?:ACTER)?(?: VARYING)?)\(\d+\)$", r"\1", type_sql) + "[]"


def among(session: Session, column, values: Iterable[Any]):
    """``column IN values`` for a statement run on this session. On PostgreSQL as
    ``column = ANY(array)``: one parameter, so the statement's text is the same for any number
    of values — SQLAlchemy's and psycopg's caches hold it and the server prepares it once —
    where an IN list is rendered anew (and parsed anew by psycopg) for every count."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


class MessageStore:
    """Writes and reads messages. Callers pass the session, so one transaction can hold a
    message, its stages and its outbox rows together."""

    def __init__(self, blobs: BlobStore, inline_max: int) -> None:
        self.blobs = blobs
        self.inline_max = inline_max

    def add_message(self, session: Session, raw: bytes, **fields: Any) -> Message:
        """Add a new message and its ``received`` stage to the session; ``fields`` are
        ``message_rows``' keywords."""
        row, stage = self.message_rows(raw, **fields)
        msg = Message(**row)
        session.add(msg)
        session.add(Stage(**stage))
        return msg

    def message_rows(
        self,
        raw: bytes,
        *,
        format: str,
        doctype: str,
        sender: str,
        channel: str,
        receiver: str | None = None,
        filename: str | None = None,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        message_id: str | None = None,
        received_at: datetime | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new message's row and its ``received`` stage, as column values: what
        ``add_message`` adds through the session, and what a batch of many inserts with
        ``insert_rows`` (hub.ingest)."""
        sha = hashlib.sha256(raw).hexdigest()
        message_id = message_id or new_id()
        inline = len(raw) <= self.inline_max
        received_at = received_at or utcnow()
        row = dict(
            id=message_id,
            received_at=received_at,
            format=format,
            doctype=doctype,
            sender=sender,
            receiver=receiver,
            channel=channel,
            filename=filename,
            headers=headers or {},
            correlation_id=correlation_id or message_id,
            sha256=sha,
            size=len(raw),
            raw=raw if inline else None,
            # The blob is on disk (fsynced) before the row commits: a committed row never
            # points at a missing file.
            blob=None if inline else self.blobs.put(raw, sha),
            status="received",
        )
        stage = dict(message_id=message_id, stage="received", at=received_at,
                     detail={"channel": channel, "size": len(raw), "sha256": sha})
        return row, stage

    def raw(self, message: Message) -> bytes:
        if message.raw is not None:
            return message.raw
        if message.blob is None:
            raise ValueError(f"message {message.id} has neither inline bytes nor a blob")
        return self.blobs.get(message.blob)

    @staticmethod
    def stage(session: Session, message_id: str, stage: str, **fields: Any) -> Stage:
        """Add one line to a message's trace. (Its status is derived: hub.store.status.)"""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        row = Stage(message_id=message_id, stage=stage, at=fields.pop("at", None) or utcnow(), **fields)
        session.add(row)
        return row

    @staticmethod
    def get(session: Session, message_id: str) -> Message | None:
        return session.get(Message, message_id)

    @staticmethod
    def stages(session: Session, message_ids: Iterable[str]) -> list[Stage]:
        ids = list(message_ids)
        return list(session.scalars(select(Stage).where(Stage.message_id.in_(ids)).order_by(Stage.at, Stage.id)))
