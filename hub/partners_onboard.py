"""Onboarding a partner (``hub partners add``) and a partner at a glance (``hub partners show``).

``add_partner`` writes one entry into the registry file — keeping the file's comments and
order (ruamel.yaml round trip) — only after the whole file, with the new entry, passes the
checks every hub process runs at start (``hub.partner_sync.check_registry``): a partner that
would stop the hub is never written. ``next_steps`` says what the partner needs next (an API
key, its SFTP folder, the hub's AS2 URL and certificate). ``activity`` reads the partner's
traffic, acknowledgements and AS2 receipts from the store.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from sqlalchemy import func, select

from hub.partner_sync import check_registry
from hub.partners import PartnerConfig


@dataclass
class NewPartner:
    """What ``hub partners add`` asks for."""

    id: str
    name: str
    roles: list[str] = field(default_factory=lambda: ["SUPPLIER"])
    standard: str = "x12"  # x12 | edifact | none
    qualifier: str | None = None  # ISA05 / UNB S002 0007
    identifier: str | None = None  # ISA06 / UNB S002 0004
    version: str | None = None  # GS08 / UNH directory
    delimiters: dict[str, str] | None = None
    documents: list[str] = field(default_factory=list)  # inbound_documents
    ack: str | None = None  # 997 999 TA1 CONTRL
    ack_within: str = "24h"
    ack_endpoint: str | None = None
    status: str = "ONBOARDING"
    as2_id: str | None = None
    as2_certificate: str | None = None
    as2_url: str | None = None

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "name": self.name, "roles": self.roles, "status": self.status}
        acks = [{"kind": self.ack, "within": self.ack_within}] if self.ack else []
        if self.standard == "x12":
            x12 = {"isa_qualifier": self.qualifier or "ZZ", "isa_id": self.identifier, "gs_id": self.identifier,
                   "version": self.version or "004010"}
            entry.update(x12={**x12, **({"delimiters": self.delimiters} if self.delimiters else {}),
                              **({"acks": acks} if acks else {})}, preferred_standard="X12")
        elif self.standard == "edifact":
            edifact = {"unb_id": self.identifier, "version": self.version or "D96A"}
            if self.qualifier:
                edifact["unb_qualifier"] = self.qualifier
            entry.update(edifact={**edifact, **({"delimiters": self.delimiters} if self.delimiters else {}),
                                  **({"acks": acks} if acks else {})}, preferred_standard="EDIFACT")
        if self.documents:
            entry["inbound_documents"] = self.documents
        if self.ack_endpoint:
            entry["outbound_endpoints"] = {"ack": self.ack_endpoint}
        if self.as2_id:
            entry["as2"] = {"as2_id": self.as2_id, "certificate": self.as2_certificate,
                            **({"url": self.as2_url} if self.as2_url else {})}
        return entry


def _yaml() -> YAML:
    yaml = YAML()  # round trip: the file's comments and order stay
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml


def _commented(value: Any) -> Any:
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _commented(item)
        if all(not isinstance(v, (dict, list)) for v in value.values()) and len(value) <= 4:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        out = CommentedSeq(_commented(v) for v in value)
        if all(not isinstance(v, (dict, list)) for v in value):
            out.fa.set_flow_style()
        return out
    return value


def add_partner(path: Path, new: NewPartner, routes) -> tuple[PartnerConfig | None, list[str]]:
    """Append ``new`` to the registry file when the file with it passes every check; returns
    (the partner, []) or (None, the problems, each ``file:line: reason``)."""
    yaml = _yaml()
    document = yaml.load(path.read_text()) if path.is_file() else None
    if document is None:
        document = CommentedMap(partners=CommentedSeq())
    partners = document.setdefault("partners", CommentedSeq())
    if any(p.get("id") == new.id for p in partners if isinstance(p, dict)):
        return None, [f"{path}: partner {new.id!r} is already in the registry (edit its entry instead)"]
    partners.append(_commented(new.entry()))
    return _write_checked(yaml, document, path, routes, new.id)


def _write_checked(yaml, document, path: Path, routes, partner_id: str) -> tuple[PartnerConfig | None, list[str]]:
    """Write the edited registry only if it passes every check → (the partner, []) or (None,
    the problems). Written beside the file and checked there (certificate paths resolve alike),
    then moved over it, so a refused edit leaves the file as it was."""
    fd, scratch = tempfile.mkstemp(prefix=".partners-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.dump(document, fh)
        check = check_registry(Path(scratch), routes)
        if check.problems:
            return None, [p.replace(scratch, str(path)) for p in check.problems]
        os.replace(scratch, path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return next(p for p in check.partners if p.id == partner_id), []


def promote_partner(path: Path, partner_id: str, routes) -> tuple[PartnerConfig | None, list[str]]:
    """Move a partner out of testing: its entry's status becomes ACTIVE in the registry file (the
    file keeps its comments and order; it is written only if it then passes every check) →
    (the partner, []) or (None, the problems)."""
    yaml = _yaml()
    document = yaml.load(path.read_text()) if path.is_file() else None
    entries = [p for p in (document or {}).get("partners") or [] if isinstance(p, dict) and p.get("id") == partner_id]
    if not entries:
        return None, [f"{path}: no partner {partner_id!r} in the registry"]
    if str(entries[0].get("status", "ACTIVE")) != "ONBOARDING":
        return None, [f"{path}: partner {partner_id!r} is {entries[0].get('status', 'ACTIVE')}, not in testing (ONBOARDING)"]
    entries[0]["status"] = "ACTIVE"
    return _write_checked(yaml, document, path, routes, partner_id)


def next_steps(partner: PartnerConfig, settings, routes) -> list[str]:
    """What to do and send now that the partner is in the registry."""
    from connectors.as2.identity import As2Settings

    steps = [f"nothing to restart: the running hub processes load {settings.routes_dir / 'partners.yaml'} "
             f"within seconds (HUB_REGISTRY_WATCH_INTERVAL) and log what changed"]
    steps.append(f"API: hub partners api-key create {partner.id} --label onboarding   (send the key to the partner; "
                 f"it posts to http://<api host>:{settings.api_port}/api/v1/messages)")
    bound = [name for name, ch in routes.channels.items()
             if (ch.filedrop and ch.filedrop.partner == partner.id) or (ch.sftp and ch.sftp.partner == partner.id)]
    if bound:
        steps += [f"channel {name}: bound to {partner.id}" for name in bound]
    else:
        steps.append(f"files: add a channel bound to the partner, e.g. in routes/channels.yaml\n"
                     f"    channels:\n      {partner.id.lower()}-inbox:\n        filedrop: {{partner: {partner.id}}}"
                     f"        # folder {settings.inbox_dir / (partner.id.lower() + '-inbox')}\n"
                     f"    or sftp: {{host: ..., path: /outbox, partner: {partner.id}, ...}} to poll its server")
    if partner.as2 is not None:
        hub = As2Settings()
        steps.append(f"AS2: send the partner the hub's AS2 name {hub.id}, its URL https://<api host>/as2/{partner.id} "
                     f"and its certificate {hub.certificate or '(set HUB_AS2_CERTIFICATE; hub as2 new-identity)'}")
    if partner.status.value == "ONBOARDING":
        steps.append("status ONBOARDING: set status: ACTIVE in the registry once the first exchanges are checked")
    return steps


@dataclass
class Activity:
    messages: Counter = field(default_factory=Counter)  # status → count (last `days`)
    last_received: datetime | None = None
    acks_out: Counter = field(default_factory=Counter)  # ack_status of interchanges the hub sent the partner
    interchanges_in: Counter = field(default_factory=Counter)  # status of interchanges it sent
    as2: Counter = field(default_factory=Counter)  # "in processed", "out pending" ...


def identities(partner: PartnerConfig) -> set[str]:
    ids = {partner.id}
    if partner.x12:
        ids |= {partner.x12.isa_id, partner.x12.gs_id or partner.x12.isa_id}
    if partner.edifact:
        ids.add(partner.edifact.unb_id)
    return ids


def activity(db, partner: PartnerConfig, days: int = 30) -> Activity:
    from connectors.as2.store import As2Message
    from edi.common.interchanges import InterchangeRecord
    from hub.store import Message

    since, ids, out = datetime.now(UTC) - timedelta(days=days), identities(partner), Activity()
    with db.read() as session:
        rows = session.execute(select(Message.status, func.count(), func.max(Message.received_at))
                               .where(Message.sender.in_(ids), Message.received_at >= since)
                               .group_by(Message.status)).all()
        out.messages.update({status: count for status, count, _ in rows})
        out.last_received = max((last for *_, last in rows if last), default=None)
        for direction, column, target in (("out", InterchangeRecord.ack_status, out.acks_out),
                                          ("in", InterchangeRecord.status, out.interchanges_in)):
            who = InterchangeRecord.receiver_id if direction == "out" else InterchangeRecord.sender_id
            target.update(dict(session.execute(select(column, func.count()).where(
                InterchangeRecord.direction == direction, who.in_(ids), InterchangeRecord.at >= since)
                .group_by(column)).all()))
        out.as2.update({f"{d} {s}": n for d, s, n in session.execute(
            select(As2Message.direction, As2Message.mdn_status, func.count())
            .where(As2Message.partner_id == partner.id, As2Message.created_at >= since)
            .group_by(As2Message.direction, As2Message.mdn_status)).all()})
    return out
