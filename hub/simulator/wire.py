"""EDI from the simulated partner's side: read the order the hub sent, write what a partner's
translator would send back.

Why the hub's own readers and writers: the simulator must send exactly what a conforming
partner sends — envelopes addressed back to the hub's identity, the partner's own delimiters,
version and control numbers, every interchange checked against the standard before it leaves
— and read the PO as a partner would (``hub edi translate``). Only the functional acks are
built here: a real partner's 997 / CONTRL may reject an order the hub considers valid (the
``rejected`` scenario), which the hub's own ack builders, judging syntax, never would.

X12: a 997 (AK1/AK2/AK5/AK9) or, when the partner's agreement names 999, a 999 (IK5), then the
855/856/810 in their own interchanges. EDIFACT: a CONTRL (UCI/UCM, action 7 acknowledged or 4
rejected), then ORDRSP/DESADV/INVOIC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edi.common.control_numbers import NumberSource
from hub.partners import PartnerConfig


class WireError(ValueError):
    """An order the simulator cannot read, or an answer it cannot write; names the place."""


@dataclass
class Outgoing:
    """An interchange the partner sends: its bytes, control number and what it could not carry."""

    data: bytes
    control_number: str
    warnings: list[str]


@dataclass
class ReceivedOrder:
    """A purchase order as the supplier read it, with the envelope its answers go back to."""

    standard: str  # X12 / EDIFACT
    po: dict[str, Any]
    envelope: dict[str, Any]
    filename: str

    @property
    def po_number(self) -> str:
        return str(self.po["po_number"])


def read_order(raw: bytes, filename: str) -> ReceivedOrder:
    """The one purchase order in an X12 850 or EDIFACT ORDERS interchange."""
    from edi.common.diagnostics import Diagnostic, EdiError
    from edi.detect import open_engine

    documents, errors = [], []
    try:
        engine, stream = open_engine(_stream(raw))
        for item in engine.translate(stream, source=filename):
            if isinstance(item, Diagnostic):
                if item.is_error:
                    errors.append(str(item))
            else:
                documents.append(item)
    except EdiError as exc:
        errors += [str(d) for d in exc.diagnostics]
    except ValueError as exc:
        errors.append(str(exc))
    orders = [d for d in documents if d.get("document_type") == "purchase_order"]
    if errors or len(orders) != 1:
        found = ", ".join(str(d.get("document_type")) for d in documents) or "nothing readable"
        raise WireError(f"{filename}: expected one purchase order, found {found}" +
                        (f"; {'; '.join(errors[:3])}" if errors else ""))
    envelope = orders[0].pop("envelope", {}) or {}
    standard = "EDIFACT" if envelope.get("standard") == "EDIFACT" else "X12"
    return ReceivedOrder(standard, orders[0], envelope, filename)


def acknowledgement_kind(raw: bytes) -> str | None:
    """997 / 999 / TA1 / CONTRL when the interchange is the hub's acknowledgement rather than an
    order: over AS2 or HTTP a partner often has one address for everything the hub sends."""
    text = raw.lstrip()
    if text.startswith(b"ISA") and len(text) > 106:
        element = text[3:4]
        for kind in (b"997", b"999"):
            if b"ST" + element + kind + element in text:
                return kind.decode()
        if b"TA1" + element in text and b"ST" + element not in text:
            return "TA1"
    elif text.startswith((b"UNA", b"UNB")) and b"UNH" in text:
        header = text.split(b"UNH", 1)[1][:60]
        if b"CONTRL" in header:
            return "CONTRL"
    return None


def _stream(raw: bytes):
    import io

    return io.BytesIO(raw)


# -- profiles: the partner as the sender, the hub (the order's sender) as the receiver ----------

def x12_profile(partner: PartnerConfig, order: ReceivedOrder):
    from edi.x12.profile import X12Profile

    identity = partner.x12
    if identity is None:
        raise WireError(f"partner {partner.id} has no x12 identity: it cannot answer an X12 order")
    env = order.envelope
    values: dict[str, Any] = {
        "sender_qualifier": identity.isa_qualifier, "sender_id": identity.isa_id, "gs_sender_id": identity.gs_id,
        "receiver_qualifier": env.get("sender_qualifier") or "ZZ", "receiver_id": env["sender_id"],
        "gs_receiver_id": env.get("group_sender_id") or env["sender_id"], "version": identity.version,
        "test": bool(env.get("test")), "ack_kind": "none",
    }
    if identity.delimiters is not None:
        d = identity.delimiters
        values.update(element_separator=d.element, component_separator=d.component, segment_terminator=d.segment)
        if d.repetition:
            values["repetition_separator"] = d.repetition
    return X12Profile(**values)


def edifact_profile(partner: PartnerConfig, order: ReceivedOrder):
    from edi.edifact.profile import EdifactProfile

    identity = partner.edifact
    if identity is None:
        raise WireError(f"partner {partner.id} has no edifact identity: it cannot answer an EDIFACT order")
    env = order.envelope
    syntax = str(env.get("interchange_version") or "UNOC:3").split(":")
    return EdifactProfile(sender_id=identity.unb_id, sender_qualifier=identity.unb_qualifier,
                          receiver_id=env["sender_id"], receiver_qualifier=env.get("sender_qualifier") or None,
                          syntax_id=syntax[0], syntax_version=syntax[1] if len(syntax) > 1 else "3",
                          directory=identity.version, test=bool(env.get("test")))


# -- functional acknowledgements ---------------------------------------------------------------

def functional_ack(partner: PartnerConfig, order: ReceivedOrder, numbers: NumberSource, *, rejected: bool,
                   code: str, now: datetime) -> Outgoing:
    """The 997 / 999 or CONTRL for the order's interchange: accepted, or rejected with ``code``
    (AK502 / IK502, UCM 0085)."""
    if order.standard == "EDIFACT":
        return _contrl(partner, order, numbers, rejected, code, now)
    return _x12_ack(partner, order, numbers, rejected, code, now)


def _x12_ack(partner: PartnerConfig, order: ReceivedOrder, numbers: NumberSource, rejected: bool, code: str,
             now: datetime) -> Outgoing:
    from edi.x12.writer import OutGroup, OutSet, WriteError, render_interchange

    env = order.envelope
    kinds = {str(getattr(a.kind, "value", a.kind)) for a in (partner.x12.acks if partner.x12 else [])}
    kind = "999" if "999" in kinds else "997"
    profile = x12_profile(partner, order)
    set_status = ["AK5" if kind == "997" else "IK5", "R", code] if rejected else ["AK5" if kind == "997" else "IK5", "A"]
    body = [["AK1", env["functional_id"], env["group_control_number"]] + ([env["group_version"]] if kind == "999" else []),
            ["AK2", env["transaction_set_id"], env["transaction_control_number"]],
            set_status,
            ["AK9", "R" if rejected else "A", "1", "1", "0" if rejected else "1"]]
    group = OutGroup("FA", [OutSet(kind, body, "005010X231A1" if kind == "999" else None, label=f"{kind} for "
                                   f"{order.filename}")], version="005010X231A1" if kind == "999" else None)
    try:
        written = render_interchange(profile, [group], numbers, now=now)
    except WriteError as exc:
        raise WireError(f"{kind} for {order.filename}: {exc}") from None
    return Outgoing(written.data, written.interchange_control_number, [])


def _contrl(partner: PartnerConfig, order: ReceivedOrder, numbers: NumberSource, rejected: bool, code: str,
            now: datetime) -> Outgoing:
    from edi.edifact.writer import OutMessage, WriteError, render_interchange, seg

    env = order.envelope
    profile = edifact_profile(partner, order)
    action = "4" if rejected else "7"  # 0083: 4 rejected, 7 acknowledged
    version = str(env.get("message_version") or "D:96A:UN").split(":")
    body = [seg("UCI", env["interchange_control_number"], [env["sender_id"], env.get("sender_qualifier") or ""],
                [env["receiver_id"], env.get("receiver_qualifier") or ""], action),
            seg("UCM", env["message_control_number"], [env["message_type"], *version[:4]], action,
                code if rejected else None)]
    identifier = ["CONTRL", "4", "1", "UN"] if profile.syntax_version == "4" else ["CONTRL", "D", "3", "UN"]
    try:
        written = render_interchange(profile, [OutMessage("CONTRL", body, identifier=identifier,
                                                          label=f"CONTRL for {order.filename}")], numbers, now=now)
    except WriteError as exc:
        raise WireError(f"CONTRL for {order.filename}: {exc}") from None
    return Outgoing(written.data, written.reference, [])


# -- business documents ------------------------------------------------------------------------

def business_documents(partner: PartnerConfig, order: ReceivedOrder, documents: list[dict[str, Any]],
                       numbers: NumberSource, now: datetime) -> Outgoing:
    """One interchange carrying the canonical ``documents`` (855/856/810 or ORDRSP/DESADV/INVOIC),
    and what the standard could not carry (warnings)."""
    if order.standard == "EDIFACT":
        from edi.edifact.writer import WriteError, write_documents

        profile = edifact_profile(partner, order)
    else:
        from edi.x12.writer import WriteError, write_documents

        profile = x12_profile(partner, order)
    try:
        written = write_documents(documents, profile, numbers, now=now)
    except WriteError as exc:
        raise WireError(f"answer to {order.filename}: {exc}") from None
    control = getattr(written, "interchange_control_number", None) or getattr(written, "reference", "")
    return Outgoing(written.data, control, written.warnings)
