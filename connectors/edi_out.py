"""EDI out to partners: ``render: x12.850`` (855, 856, 810) and ``render: edifact.ORDERS``
(ORDRSP, DESADV, INVOIC, RECADV) turn a canonical document into an enveloped interchange for
one partner, with control numbers from the shared allocator, and record the acknowledgement
the partner owes for it.

    - render: x12.850                       # partner from body.supplier_partner_id
    - render:
        edifact.ORDERS: {partner: P-0107}   # or a fixed partner; partner_path: body.x.y

Every interchange is checked against the standard before a control number is taken
(``edi.x12.grammar`` / ``edi.edifact.grammar``): one that fails is a ``render_error`` naming
document, field, segment, element and reason, and the document goes to the route's DLQ;
nothing invalid is sent. Content the set cannot carry is appended to the exchange's warnings
(the route trace shows them).

The partner registry gives the receiver's identity (ISA qualifier/ID, GS ID, version,
delimiters; UNB ID/qualifier, directory, delimiters) and the acks it sends (``acks: [{kind:
"997", within: 24h}]``). Our own identity comes from ``HUB_EDI_X12_QUALIFIER`` /
``HUB_EDI_X12_ID`` / ``HUB_EDI_X12_GS_ID`` and ``HUB_EDI_EDIFACT_ID`` /
``HUB_EDI_EDIFACT_QUALIFIER`` (a step may override them with ``sender_id`` /
``sender_qualifier``). The interchange is logged as sent in ``edi_interchanges`` with
``ack_expected`` (997/999, else TA1; CONTRL) and, in ``detail``, the partner, document and the
ack window: ``hub acks overdue`` lists those whose ack has not come within that window of the
delivery that carried them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from connectors.render import renderer
from edi.common.control_numbers import ControlNumbers
from edi.common.interchanges import (
    OUTBOUND,
    InterchangeRecord,
    Party,
    register_outbound,
)
from edi.common.settings import EdiSettings
from hub.documents import expect_answer
from hub.exchange import Exchange
from hub.partners import AckExpectation, PartnerConfig, PartnerRegistry
from hub.paths import resolve, split_path
from hub.payloads import RenderedDocument, identity
from hub.registry import RouteEnv, StepError, StrictModel
from hub.store import Delivery, utcnow

X12_SETS = {"850": "purchase_order", "855": "purchase_order_ack", "856": "ship_notice", "810": "invoice"}
EDIFACT_MESSAGES = {"ORDERS": "purchase_order", "ORDRSP": "purchase_order_ack", "DESADV": "ship_notice",
                    "INVOIC": "invoice", "RECADV": "goods_receipt"}
X12_CONTENT_TYPE, EDIFACT_CONTENT_TYPE = "application/edi-x12", "application/edifact"


class EdiRenderOptions(StrictModel):
    partner: str | None = Field(None, description="A fixed partner id")
    partner_path: str = Field("body.supplier_partner_id", description="Where the partner id is in the exchange")
    sender_id: str | None = Field(None, description="Our ISA06/UNB sender id; default HUB_EDI_X12_ID / _EDIFACT_ID")
    sender_qualifier: str | None = None
    test: bool | None = None

    @field_validator("partner_path")
    @classmethod
    def _path(cls, value: str) -> str:
        split_path(value)
        return value


def _document(ex: Exchange, document_type: str, name: str) -> dict[str, Any]:
    body = ex.body
    data = body.model_dump(mode="json", exclude_none=True) if isinstance(body, BaseModel) else body
    if not isinstance(data, dict) or data.get("document_type") != document_type:
        got = data.get("document_type") if isinstance(data, dict) else type(body).__name__
        raise StepError(f"render {name} needs one canonical {document_type} (split lists first), got {got}",
                        code="render_error")
    return data


def _partner(ex: Exchange, options: EdiRenderOptions, env: RouteEnv, name: str) -> PartnerConfig:
    partner_id = options.partner or resolve(ex, options.partner_path)
    if not partner_id:
        raise StepError(f"render {name}: no partner id at {options.partner_path} (set partner: or partner_path:)",
                        code="render_error")
    partner = PartnerRegistry(env.service("db")).by_id(str(partner_id))
    if partner is None:
        raise StepError(f"render {name}: partner {partner_id!r} is not in the registry (hub partners load)",
                        code="unknown_partner")
    return partner


def _now(env: RouteEnv) -> datetime | None:
    """The route's clock: fixed in ``hub routes test``, so a rendered interchange compares equal."""
    clock = env.services.get("clock")
    return clock() if clock else None


def _expected(acks: list[AckExpectation], preference: tuple[str, ...]) -> AckExpectation | None:
    by_kind = {str(getattr(a.kind, "value", a.kind)): a for a in acks}
    return next((by_kind[k] for k in preference if k in by_kind), None)


def _log_expectations(session, record: InterchangeRecord, partner: PartnerConfig, ack: AckExpectation | None,
                      ex: Exchange, env: RouteEnv, wire_type: str, document_type: str, key: str | None) -> None:
    """What the partner owes for this interchange: the functional ack (on the interchange log
    record) and the business answer of its ``business_answers`` (855/ORDRSP for a PO)."""
    record.ack_expected = str(getattr(ack.kind, "value", ack.kind)) if ack else None
    record.ack_status = "pending" if ack else None
    record.detail = {**(record.detail or {}), "partner_id": partner.id, "route": env.route_name,
                     "document_type": wire_type, "document_key": key,
                     "ack_within_seconds": ack.seconds if ack else None}
    answer = partner.answer_for(document_type)
    if answer is not None and key:
        expect_answer(session, partner_id=partner.id, answer=answer, document_type=document_type, document_key=key,
                      message_id=ex.message_id, route=env.route_name)


# -- X12 ---------------------------------------------------------------------------------------------

def x12_profile(partner: PartnerConfig, options: EdiRenderOptions, settings: EdiSettings, name: str):
    from edi.x12.profile import X12Profile

    ident = partner.x12
    our_id = options.sender_id or settings.x12_id
    if ident is None:
        raise StepError(f"render {name}: partner {partner.id} has no x12 identity (isa_qualifier, isa_id)",
                        code="render_error")
    if not our_id:
        raise StepError(f"render {name}: our ISA sender id is not set (HUB_EDI_X12_ID or sender_id:)",
                        code="render_error")
    acks = {str(getattr(a.kind, "value", a.kind)) for a in ident.acks}
    values: dict[str, Any] = {
        "sender_qualifier": options.sender_qualifier or settings.x12_qualifier, "sender_id": our_id,
        "receiver_qualifier": ident.isa_qualifier, "receiver_id": ident.isa_id,
        "gs_sender_id": settings.x12_gs_id, "gs_receiver_id": ident.gs_id, "version": ident.version,
        "ack_kind": "999" if "999" in acks else "997" if "997" in acks else "TA1" if "TA1" in acks else "none",
        "request_ta1": "TA1" in acks, "test": settings.test if options.test is None else options.test,
    }
    if ident.delimiters is not None:
        d = ident.delimiters
        values.update(element_separator=d.element, component_separator=d.component, segment_terminator=d.segment)
        if d.repetition:
            values["repetition_separator"] = d.repetition
    try:
        return X12Profile(**values)
    except ValueError as exc:
        raise StepError(f"render {name}: partner {partner.id}'s X12 settings: {exc}", code="render_error") from None


def _x12_renderer(set_id: str, document_type: str) -> None:
    name = f"x12.{set_id}"

    @renderer(name, config=EdiRenderOptions)
    def render_x12(body: Any, options: EdiRenderOptions, ex: Exchange, env: RouteEnv) -> RenderedDocument:
        from edi.x12.writer import AllocatedNumbers, write_documents

        document = _document(ex, document_type, name)
        partner = _partner(ex, options, env, name)
        profile = x12_profile(partner, options, EdiSettings(), name)
        db = env.service("db")
        try:
            written = write_documents([document], profile, AllocatedNumbers(ControlNumbers(db), profile),
                                      now=_now(env))
        except ValueError as exc:  # WriteError: names document, field, segment, element and reason
            raise StepError(f"render {name}: {exc}", code="render_error") from None
        ex.warnings.extend(f"render {name}: {warning}" for warning in written.warnings)
        _, key = identity(document)
        with db.session() as session:
            record = register_outbound(
                session, standard="X12", sender=Party(profile.sender_qualifier, profile.sender_id),
                receiver=Party(profile.receiver_qualifier, profile.receiver_id),
                control_number=written.interchange_control_number, version=profile.isa_version, test=profile.test,
                message_id=ex.message_id, groups=written.groups)
            ack = _expected(partner.x12.acks, ("999", "997", "TA1"))  # type: ignore[union-attr]
            _log_expectations(session, record, partner, ack, ex, env, set_id, document_type, key)
        return RenderedDocument(written.data, X12_CONTENT_TYPE, set_id, key)

    render_x12.__doc__ = f"Canonical {document_type} → X12 {set_id} interchange for the partner."


# -- EDIFACT -----------------------------------------------------------------------------------------

def _edifact_renderer(message_type: str, document_type: str) -> None:
    name = f"edifact.{message_type}"

    @renderer(name, config=EdiRenderOptions)
    def render_edifact(body: Any, options: EdiRenderOptions, ex: Exchange, env: RouteEnv) -> RenderedDocument:
        from edi.edifact.contrl import register_sent
        from edi.edifact.profile import EdifactProfile
        from edi.edifact.writer import AllocatedNumbers, write_documents

        document = _document(ex, document_type, name)
        partner = _partner(ex, options, env, name)
        settings = EdiSettings()
        our_id = options.sender_id or settings.edifact_id
        if partner.edifact is None or not our_id:
            missing = (f"partner {partner.id} has no edifact identity (unb_id)" if partner.edifact is None
                       else "our UNB sender id is not set (HUB_EDI_EDIFACT_ID or sender_id:)")
            raise StepError(f"render {name}: {missing}", code="render_error")
        try:
            profile = EdifactProfile.from_partner(partner, our_id=our_id,
                                                  our_qualifier=options.sender_qualifier or settings.edifact_qualifier)
            if options.test if options.test is not None else settings.test:
                profile = profile.model_copy(update={"test": True})
            db = env.service("db")
            written = write_documents([document], profile, AllocatedNumbers(ControlNumbers(db), profile),
                                      now=_now(env))
        except ValueError as exc:  # a WriteError or the partner's settings: names the place
            raise StepError(f"render {name}: {exc}", code="render_error") from None
        ex.warnings.extend(f"render {name}: {warning}" for warning in written.warnings)
        _, key = identity(document)
        ack = _expected(partner.edifact.acks, ("CONTRL",))
        with db.session() as session:
            record = register_sent(session, written, profile, message_id=ex.message_id,
                                   ack_expected="CONTRL" if ack else None)
            _log_expectations(session, record, partner, ack, ex, env, message_type, document_type, key)
        return RenderedDocument(written.data, EDIFACT_CONTENT_TYPE, message_type, key)

    render_edifact.__doc__ = f"Canonical {document_type} → EDIFACT {message_type} interchange for the partner."


for _set, _doc in X12_SETS.items():
    _x12_renderer(_set, _doc)
for _message, _doc in EDIFACT_MESSAGES.items():
    _edifact_renderer(_message, _doc)


# -- overdue acknowledgements ------------------------------------------------------------------------

def overdue_acks(db, now: datetime | None = None) -> list[dict[str, Any]]:
    """Sent interchanges whose expected ack is pending past its window, counted from the
    delivery that carried them (found by their control number in a delivered payload)."""
    now = now or utcnow()
    out = []
    with db.session() as session:
        pending = session.scalars(select(InterchangeRecord).where(
            InterchangeRecord.direction == OUTBOUND, InterchangeRecord.ack_status == "pending",
            InterchangeRecord.ack_expected.is_not(None))).all()
        for record in pending:
            detail = record.detail or {}
            window = detail.get("ack_within_seconds")
            if window is None or record.message_id is None:
                continue
            sent_at = _delivered_at(session, record, detail)
            if sent_at is None:
                continue  # never delivered (or re-rendered): no ack can be owed for it
            due = sent_at + timedelta(seconds=window)
            if due < now:
                out.append({"partner_id": detail.get("partner_id"), "standard": record.standard,
                            "receiver": f"{record.receiver_qualifier}:{record.receiver_id}",
                            "control_number": record.control_number, "ack_expected": record.ack_expected,
                            "document_type": detail.get("document_type"), "document_key": detail.get("document_key"),
                            "message_id": record.message_id, "sent_at": sent_at, "due_at": due,
                            "overdue_seconds": (now - due).total_seconds()})
    return sorted(out, key=lambda r: r["due_at"])


def _delivered_at(session, record: InterchangeRecord, detail: dict[str, Any]) -> datetime | None:
    query = select(Delivery).where(Delivery.message_id == record.message_id, Delivery.status == "delivered",
                                   Delivery.document_type == detail.get("document_type"))
    times = [d.delivered_at for d in session.scalars(query)
             if d.delivered_at is not None and record.control_number.encode() in d.payload]
    return min(times) if times else None
