"""Accounting: what the clients sent, what the hub's store holds, what the endpoint received.

Read from the hub's own store with plain SQL on the tables ``messages``, ``deliveries`` and
``dead_letters`` (only columns that have been there from the start, so the harness keeps
working while the hub's models change), and from the recording endpoint's log.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks.chaoskit.clients import Doc


def _ref_of(raw: bytes | None) -> str | None:
    try:
        return json.loads(raw).get("reference") if raw else None
    except (ValueError, AttributeError):
        return None


@dataclass
class StoreSnapshot:
    messages: dict[str, str | None] = field(default_factory=dict)  # message id → document reference
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    outbox_pending: set[str] = field(default_factory=set)  # message ids with an unpublished outbox row
    route_runs: set[str] = field(default_factory=set)


class Store:
    def __init__(self, url: str) -> None:
        # psycopg 3 (the hub's driver); the harness does not import the hub it measures.
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.engine = create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1,
                                    connect_args={"connect_timeout": 3})
        self.refs: dict[str, str | None] = {}

    def _refs_for(self, conn, ids: set[str]) -> None:
        missing = [i for i in ids if i not in self.refs]
        for i in range(0, len(missing), 500):
            rows = conn.execute(text("SELECT id, raw FROM messages WHERE id = ANY(:ids)"), {"ids": missing[i:i + 500]})
            self.refs.update({r.id: _ref_of(r.raw) for r in rows})

    def parked_refs(self) -> set[str]:
        """References of documents with a parked dead letter (cheap enough to poll)."""
        with self.engine.connect() as conn:
            ids = {r[0] for r in conn.execute(text("SELECT DISTINCT message_id FROM dead_letters WHERE state = 'parked'"))}
            self._refs_for(conn, ids)
        return {self.refs[i] for i in ids if self.refs.get(i)}

    def snapshot(self) -> StoreSnapshot:
        snap = StoreSnapshot()
        with self.engine.connect() as conn:
            for r in conn.execute(text("SELECT id, raw FROM messages")):
                snap.messages[r.id] = self.refs.setdefault(r.id, _ref_of(r.raw))
            snap.deliveries = [dict(r._mapping) for r in conn.execute(text(
                "SELECT id, message_id, status, attempts, idempotency_key FROM deliveries"))]
            snap.dead_letters = [dict(r._mapping) for r in conn.execute(text(
                "SELECT id, message_id, delivery_id, queue, reason, state, error FROM dead_letters"))]
            snap.outbox_pending = {r[0] for r in conn.execute(text(
                "SELECT DISTINCT message_id FROM outbox WHERE published_at IS NULL"))}
            snap.route_runs = {r[0] for r in conn.execute(text("SELECT message_id FROM route_runs"))}
        return snap

    def dispose(self) -> None:
        self.engine.dispose()


def delivered_refs(records: list[dict[str, Any]]) -> set[str]:
    return {r["ref"] for r in records if r.get("status") == 200 and r.get("ref")}


def out_of_order_pairs(docs: list[Doc], first_ok: dict[str, float]) -> int:
    """Pairs (older version, newer version) of one business key, both delivered, where the
    endpoint accepted the newer one first."""
    by_key: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        if d.ref in first_ok:
            by_key[d.bkey].append(d)
    pairs = 0
    for versions in by_key.values():
        versions.sort(key=lambda d: d.version)
        for i, older in enumerate(versions):
            pairs += sum(first_ok[newer.ref] < first_ok[older.ref] for newer in versions[i + 1:])
    return pairs


def out_of_receipt_order_pairs(docs: list[Doc], first_ok: dict[str, float], msgs_by_ref: dict[str, list[str]]) -> int:
    """Like ``out_of_order_pairs``, but against the order the hub *received* the versions in
    (its message ids are time-ordered UUIDv7s): what an endpoint with ``ordered_by`` is promised.
    A client that retried an older version after a newer one was taken moves it in this order."""
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in docs:
        if d.ref in first_ok and msgs_by_ref.get(d.ref):
            by_key[d.bkey].append((min(msgs_by_ref[d.ref]), d.ref))
    pairs = 0
    for received in by_key.values():
        received.sort()
        for i, (_, older) in enumerate(received):
            pairs += sum(first_ok[newer] < first_ok[older] for _, newer in received[i + 1:])
    return pairs


def where_is(doc: Doc, snap: StoreSnapshot, msgs_by_ref: dict[str, list[str]], inbox: Path) -> str:
    """For a lost document: the last place it was seen, in the clients, the file drop or the store."""
    mids = msgs_by_ref.get(doc.ref, [])
    if not mids:
        if doc.channel == "api":
            return "API said 202, no message stored" if doc.message_ids else "never stored"
        for sub, label in (("", "still in the drop folder"), ("processing", "left in processing/"),
                           ("error", "moved to error/")):
            if (inbox / sub / f"{doc.ref}.json").exists() or any((inbox / sub).glob(f"*__{doc.ref}.json")):
                return f"file {label}, not stored"
        return "file gone, not stored"
    dels = [d for d in snap.deliveries if d["message_id"] in mids]
    if not dels:
        if any(m in snap.outbox_pending for m in mids):
            return "stored, outbox not published"
        if any(m in snap.route_runs for m in mids):
            return "routed, no delivery"
        return "stored+published, route never ran"
    return "delivery " + "/".join(sorted({d["status"] for d in dels}))


@dataclass
class Row:
    scenario: str
    sent: int
    not_accepted: int
    delivered: int
    posts: int
    dup_same_key: int
    dup_diff_keys: int
    lost: int
    parked: int
    poison_parked: str
    out_of_order: int
    drain_s: float | None
    out_of_receipt_order: int
    stored_twice: int
    lost_where: dict[str, int]
    parked_reasons: dict[str, int]
    poison_reasons: dict[str, int]
    hub_attempts: int  # delivery attempts the hub recorded (refused connections included)
    notes: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def account(scenario: str, docs: list[Doc], records: list[dict[str, Any]], snap: StoreSnapshot, inbox: Path,
            drain_s: float | None) -> Row:
    accepted = [d for d in docs if d.accepted_at is not None]
    ok = [r for r in records if r.get("status") == 200 and r.get("ref")]
    first_ok: dict[str, float] = {}
    per_key: Counter[tuple[str, str]] = Counter()
    keys_per_ref: dict[str, set[str]] = defaultdict(set)
    for r in sorted(ok, key=lambda r: r["t"]):
        first_ok.setdefault(r["ref"], r["t"])
        per_key[(r["ref"], r["key"])] += 1
        keys_per_ref[r["ref"]].add(r["key"])
    msgs_by_ref: dict[str, list[str]] = defaultdict(list)
    for mid, ref in snap.messages.items():
        if ref:
            msgs_by_ref[ref].append(mid)
    ref_of_msg = snap.messages
    parked_letters = [dl for dl in snap.dead_letters if dl["state"] == "parked"]
    parked_refs = {ref_of_msg.get(dl["message_id"]) for dl in parked_letters} - {None}
    poison = {d.ref for d in docs if d.poison}
    lost_docs = [d for d in accepted if d.ref not in first_ok and d.ref not in parked_refs]
    outage_parked = parked_refs - poison
    return Row(
        scenario=scenario,
        sent=len(accepted),
        not_accepted=len(docs) - len(accepted),
        delivered=len(first_ok),
        posts=len(records),
        dup_same_key=sum(c - 1 for c in per_key.values()),
        dup_diff_keys=sum(len(k) - 1 for k in keys_per_ref.values()),
        lost=len(lost_docs),
        parked=len(outage_parked),
        poison_parked=f"{len(poison & parked_refs)}/{len(poison)}" if poison else "-",
        out_of_order=out_of_order_pairs(docs, first_ok),
        drain_s=drain_s,
        out_of_receipt_order=out_of_receipt_order_pairs(docs, first_ok, msgs_by_ref),
        stored_twice=sum(len(m) - 1 for m in msgs_by_ref.values()),
        lost_where=dict(Counter(where_is(d, snap, msgs_by_ref, inbox) for d in lost_docs)),
        parked_reasons=dict(Counter(dl["reason"] for dl in parked_letters
                                    if ref_of_msg.get(dl["message_id"]) not in poison)),
        hub_attempts=sum(d["attempts"] or 0 for d in snap.deliveries),
        poison_reasons=dict(Counter(dl["reason"] for dl in parked_letters if ref_of_msg.get(dl["message_id"]) in poison)),
    )
