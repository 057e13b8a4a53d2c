"""A message's trace: every stage with times and errors, the calls made to endpoints, the
replays, and — while deliveries wait — the circuits of the endpoints they wait for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.operations.terminal import printable
from hub.store import Delivery, DeliveryAttempt, Message, MessageStore, Replay


@dataclass
class TraceLine:
    at: datetime
    since_start_ms: float
    since_previous_ms: float
    stage: str
    where: str
    detail: str
    error: str | None


def trace(hub, message_id: str) -> tuple[Message, list[TraceLine], list[DeliveryAttempt], list[Replay]]:
    with hub.db.session() as session:
        msg = session.get(Message, message_id)
        if msg is None:
            raise KeyError(f"no message with id {message_id}")
        stages = MessageStore.stages(session, [message_id])
        deliveries = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.message_id == message_id))}
        attempts = list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(deliveries))
                                        .order_by(DeliveryAttempt.started_at)))
        replays = list(session.scalars(select(Replay).where(Replay.message_id == message_id).order_by(Replay.at)))
    lines, start, prev = [], None, None
    for s in stages:
        start = start or s.at
        where = " ".join(p for p in (f"route={s.route}" if s.route else "", f"endpoint={s.endpoint}" if s.endpoint else "") if p)
        detail = ", ".join(f"{k}={v}" for k, v in (s.detail or {}).items() if v not in (None, [], {}, ""))
        lines.append(TraceLine(s.at, (s.at - start).total_seconds() * 1000,
                               ((s.at - prev).total_seconds() * 1000) if prev else 0.0, s.stage, where, detail, s.error))
        prev = s.at
    return msg, lines, attempts, replays


def format_trace(hub, message_id: str) -> str:
    from hub.operations.messages import summarise

    msg, lines, attempts, replays = trace(hub, message_id)
    (summary,) = summarise(hub, [msg])
    out = [
        f"message {msg.id}",
        f"  received {msg.received_at.isoformat()} via {printable(msg.channel)}  {msg.format}/{msg.doctype} from "
        f"{printable(msg.sender)}  {msg.size} bytes  sha256 {msg.sha256[:16]}…  status {summary.progress}",
    ]
    if msg.filename:
        out.append(f"  file {printable(msg.filename)}")
    if (msg.headers or {}).get("hub_edited_from"):
        out.append(f"  edited version of message {msg.headers['hub_edited_from']}")
    if (msg.headers or {}).get("as2_message_id"):  # received over AS2 (connectors.as2.inbound)
        h = msg.headers
        out.append(printable(f"  AS2 Message-ID <{h['as2_message_id']}> from {h.get('as2_from')}; MDN {h.get('as2_mdn')}"
                             f" (processed); MIC {h.get('as2_mic')}"))
    for endpoint, circuit in summary.waiting_on.items():
        out.append(f"  waiting for {endpoint}: {circuit}")
    out.append("")
    out.append(f"  {'time (UTC)':<26} {'+ms':>9} {'Δms':>9}  {'stage':<14} where / detail")
    for ln in lines:
        out.append(f"  {ln.at.strftime('%Y-%m-%d %H:%M:%S.%f'):<26} {ln.since_start_ms:>9.1f} {ln.since_previous_ms:>9.1f}"
                   f"  {ln.stage:<14} {ln.where}{'  ' if ln.where and ln.detail else ''}{printable(ln.detail)}")
        if ln.error:
            out.append(f"  {'':<26} {'':>9} {'':>9}  {'':<14} error: {printable(ln.error)}")
    if attempts:
        out.append("")
        out.append("  delivery attempts:")
        for a in attempts:
            code = f"HTTP {a.status_code}" if a.status_code is not None else "-"
            took = (a.finished_at - a.started_at).total_seconds() * 1000
            out.append(f"    {a.started_at.strftime('%H:%M:%S.%f')}  delivery {a.delivery_id[:8]}  attempt {a.attempt}"
                       f"  {a.outcome:<11} {code:<9} {took:7.1f} ms  {printable((a.error or a.response or '')[:120])}")
    if replays:
        out.append("")
        out.append("  replays:")
        for r in replays:
            out.append(f"    {r.at.isoformat()}  by {r.by}  → {r.target}  why: {r.reason}")
    return "\n".join(out)

