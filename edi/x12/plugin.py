"""X12 route components (registered through the ``supply_hub.plugins`` entry point ``x12``):

- ``parse: x12`` — raw bytes → ``ParsedX12`` (interchanges with their transaction sets).
  Envelope errors raise ``StepError`` with the location (``envelope_errors: fail``, the
  default) or stay on the body for ``ack`` to reject them (``envelope_errors: keep``);
  recovered defects become ``ex.warnings``.
- ``split: transaction`` (``edi.common.route_steps``) — one part per transaction set; a part's
  body is the ``TransactionSet``, which keeps its interchange and group (envelope info).
  Sets with errors, and every set of a duplicate interchange, are not split out: each adds an
  entry to ``ex.exceptions`` instead.
- ``ack: auto`` — per interchange: records it in the interchange log (duplicate → TA1 025 and a
  ``duplicate_interchange`` business exception), builds the TA1/997/999 the partner expects
  and appends it to ``ex.side_outputs`` for the ack endpoint (step config ``endpoint``, else
  the partner's ``outbound_endpoints["997"|"999"|"TA1"|"ack"]``). Inbound TA1/997/999 are
  matched to what the hub sent and their result recorded (``record_ack``); a rejection or an
  ack of something never sent is an ``ack_missing_or_negative`` business exception.
- transforms ``x12.850_to_purchase_order``, ``x12.855_to_purchase_order_ack``,
  ``x12.856_to_ship_notice``, ``x12.810_to_invoice``, ``x12.846_to_inventory_snapshot``,
  ``x12.832_to_price_catalog`` (a list of entries), ``x12.acks_to_ack_result`` and
  ``x12.to_canonical`` (chooses by ST01).

Route order: ``parse: x12`` → ``ack: auto`` → ``split: transaction`` → ``transform: ...``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from edi.common.control_numbers import ControlNumbers
from edi.common.diagnostics import EdiError
from edi.common.ack_results import AckResult
from edi.common.interchanges import GroupInfo, Party, record_ack, register_inbound, register_outbound
from edi.common.route_steps import AckConfig, BodyHandlers, register_body
from edi.x12.acks import build_reply
from edi.x12.engine import map_set
from edi.x12.mapping.acks import ta1_results
from edi.x12.profile import X12Profile
from edi.x12.reader import Interchange, ParsedX12, TransactionSet, read_x12
from edi.x12.writer import AllocatedNumbers, NumberSource, PreviewNumbers
from hub.exchange import Exchange, SideOutput
from hub.registry import RouteEnv, StepError, StrictModel, parser, transform

CONTENT_TYPE = "application/edi-x12"


class X12ParseConfig(StrictModel):
    envelope_errors: Literal["fail", "keep"] = "fail"


@parser("x12", config=X12ParseConfig)
def parse_x12(raw: bytes, config: X12ParseConfig | None, ex: Exchange) -> ParsedX12:
    """Raw X12 bytes → interchanges with their transaction sets."""
    try:
        parsed = read_x12(raw)
    except EdiError as exc:
        raise StepError(exc.diagnostic.reason, location=exc.diagnostic.location() or None,
                        code=exc.diagnostic.code or "x12_unreadable") from None
    diagnostics = parsed.diagnostics()
    ex.warnings.extend(str(d) for d in diagnostics if not d.is_error)
    errors = [d for d in diagnostics if d.is_error]
    if errors and (config is None or config.envelope_errors == "fail"):
        first = errors[0]
        more = f" (and {len(errors) - 1} more envelope errors)" if len(errors) > 1 else ""
        raise StepError(first.reason + more, location=first.location() or None, code=first.code or "x12_envelope")
    ex.headers["x12_interchanges"] = [p.interchange.envelope_info() for p in parsed.interchanges]
    return parsed


def _split(parsed: ParsedX12, ex: Exchange) -> list[TransactionSet]:
    duplicates = ex.headers.get("x12_duplicate_interchanges") or []
    parts = []
    for entry in parsed.interchanges:
        for ts in entry.transactions:
            if entry.interchange.index in duplicates:
                ex.exceptions.append({"kind": "duplicate_interchange", "set": f"{ts.set_id} {ts.control_number}",
                                      "message": f"interchange {entry.interchange.control_number} was already received"})
            elif ts.errors:
                first = ts.errors[0]
                ex.exceptions.append({"kind": "syntax_error", "set": f"{ts.set_id} {ts.control_number}",
                                      "location": first.location(), "message": first.reason})
            else:
                parts.append(ts)
    return parts


def _ack_profile(partner: Any, config: AckConfig) -> X12Profile | None:
    """The partner's ack preferences as a base profile (parties are filled by ``reply_to``)."""
    kinds = [a.kind.value if hasattr(a.kind, "value") else str(a.kind)
             for a in (partner.x12.acks if partner is not None and partner.x12 else [])]
    kind = config.kind or next((k for k in kinds if k in ("997", "999", "TA1")), None)
    if kind is None and partner is None:
        return None
    return X12Profile(sender_id="-", receiver_id="-", ack_kind=kind or "997", always_ta1="TA1" in kinds)


def _endpoint(config: AckConfig, partner: Any, kind: str) -> str:
    endpoints = partner.outbound_endpoints if partner is not None else {}
    endpoint = config.endpoint or endpoints.get(kind) or endpoints.get("ack")
    if not endpoint:
        raise StepError(f"no endpoint for the {kind} acknowledgement: set 'ack: {{endpoint: ...}}' or the "
                        f"partner's outbound_endpoints['{kind}']", code="ack_endpoint")
    return endpoint


def _acknowledge(parsed: ParsedX12, ex: Exchange, config: AckConfig, env: RouteEnv) -> list[SideOutput]:
    db = env.services.get("db")
    partners = env.services.get("partners")
    outputs: list[SideOutput] = []
    duplicates: list[int] = []
    for entry in parsed.interchanges:
        interchange = entry.interchange
        for ts in entry.transactions:
            docs = map_set(ts)  # syntax errors found by the mapping go into the 997/999 (AK3/AK4)
            if db is not None and docs and ts.set_id in ("997", "999") and not ts.errors:
                _record_inbound_ack(db, docs[0], interchange, ts.group, ex, env)
        if db is not None and not interchange.errors:
            for result in ta1_results(interchange)[0]:
                _record_inbound_ack(db, result, interchange, None, ex, env)
        partner = partners.by_isa(interchange.sender_qualifier, interchange.sender_id) if partners else None
        duplicate = _log_inbound(db, interchange, ex, env) if db is not None else False
        if duplicate:
            duplicates.append(interchange.index)
        base = _ack_profile(partner, config)
        reply_profile = X12Profile.reply_to(interchange, base)
        numbers: NumberSource = AllocatedNumbers(ControlNumbers(db), reply_profile) if db else PreviewNumbers()
        written = build_reply(interchange, base, numbers=numbers, duplicate=duplicate)
        if written is None:
            continue
        kind = "TA1" if not written.groups else reply_profile.ack_kind
        outputs.append(SideOutput(_endpoint(config, partner, kind), written.data, CONTENT_TYPE, document_type=kind,
                                  document_key=written.interchange_control_number))
        if db is not None:
            with db.session() as session:
                register_outbound(session, standard="X12", sender=Party(reply_profile.sender_qualifier, reply_profile.sender_id),
                                  receiver=Party(reply_profile.receiver_qualifier, reply_profile.receiver_id),
                                  control_number=written.interchange_control_number, version=reply_profile.isa_version,
                                  test=reply_profile.test, message_id=ex.message_id, groups=written.groups)
    ex.headers["x12_duplicate_interchanges"] = duplicates
    return outputs


def _record_inbound_ack(db: Any, result: AckResult, interchange: Interchange, group: Any, ex: Exchange,
                        env: RouteEnv) -> None:
    """Match an inbound TA1/997/999 to what the hub sent and store its result; a rejection or
    an ack for nothing we sent becomes a business exception (domain.md C #8)."""
    from hub.business_exceptions import record_exception

    with db.session() as session:
        match = record_ack(session, result, ack_sender=Party(interchange.sender_qualifier, interchange.sender_id),
                           ack_receiver=Party(interchange.receiver_qualifier, interchange.receiver_id),
                           group_sender_id=group.sender_id if group else None,
                           group_receiver_id=group.receiver_id if group else None, message_id=ex.message_id)
        problems = [f"{result.ack_kind} acknowledges {what} the hub has no record of sending"
                    for what in match.unmatched]
        if result.rejected:
            problems.append(f"{result.ack_kind} from {interchange.sender_id} rejects what the hub sent")
        for message in problems:
            record_exception(session, kind="ack_missing_or_negative", message=message, document_type="ack_result",
                             document_key=interchange.control_number, partner_id=interchange.sender_id,
                             message_id=ex.message_id, route=env.route_name,
                             detail={"ack": result.model_dump(mode="json", exclude_none=True)})
            ex.exceptions.append({"kind": "ack_missing_or_negative", "message": message})


def _log_inbound(db: Any, interchange: Interchange, ex: Exchange, env: RouteEnv) -> bool:
    from hub.business_exceptions import record_exception

    groups = [GroupInfo(g.functional_id, g.control_number, g.sender_id, g.receiver_id, g.version,
                        tuple((s.set_id, s.control_number) for s in g.sets)) for g in interchange.groups]
    with db.session() as session:
        record = register_inbound(session, standard="X12",
                                  sender=Party(interchange.sender_qualifier, interchange.sender_id),
                                  receiver=Party(interchange.receiver_qualifier, interchange.receiver_id),
                                  control_number=interchange.control_number, version=interchange.version,
                                  test=interchange.is_test, message_id=ex.message_id, groups=groups)
        if not record.duplicate:
            return False
        message = (f"interchange {interchange.control_number} from {interchange.sender_qualifier}:"
                   f"{interchange.sender_id} was already received (record {record.duplicate_of}); refused with TA1 025")
        record_exception(session, kind="duplicate_interchange", message=message, document_type="x12_interchange",
                         document_key=interchange.control_number, partner_id=interchange.sender_id,
                         message_id=ex.message_id, route=env.route_name)
    ex.exceptions.append({"kind": "duplicate_interchange", "message": message})
    return True


register_body(ParsedX12, BodyHandlers(split=_split, acknowledge=_acknowledge))


# -- transforms ------------------------------------------------------------------------------
def _documents(body: Any, ex: Exchange, set_ids: tuple[str, ...] | None, name: str) -> list[BaseModel]:
    if not isinstance(body, TransactionSet):
        raise StepError(f"{name} needs one X12 transaction set (use 'split: transaction' first), got "
                        f"{type(body).__name__}", code="x12_body")
    if set_ids and body.set_id not in set_ids:
        raise StepError(f"{name} maps transaction set {'/'.join(set_ids)}, got {body.set_id}",
                        location=f"segment {body.position} (ST), element 1", code="x12_wrong_set")
    docs = map_set(body)
    ex.warnings.extend(str(d) for d in body.diagnostics if not d.is_error)
    if docs is None:
        first = body.errors[0]
        raise StepError(first.reason, location=first.location() or None, code=first.code or "x12_mapping")
    ex.headers["envelope"] = body.envelope_info()
    return docs


def _single(name: str, set_id: str, emits: str):
    @transform(name, emits=emits)
    def fn(body: Any, ex: Exchange) -> BaseModel:
        return _documents(body, ex, (set_id,), name)[0]

    fn.__doc__ = f"X12 {set_id} transaction set → canonical {emits}."
    fn.__name__ = name.replace(".", "_")
    return fn


x12_850_to_purchase_order = _single("x12.850_to_purchase_order", "850", "purchase_order")
x12_855_to_purchase_order_ack = _single("x12.855_to_purchase_order_ack", "855", "purchase_order_ack")
x12_856_to_ship_notice = _single("x12.856_to_ship_notice", "856", "ship_notice")
x12_810_to_invoice = _single("x12.810_to_invoice", "810", "invoice")
x12_846_to_inventory_snapshot = _single("x12.846_to_inventory_snapshot", "846", "inventory_snapshot")


@transform("x12.832_to_price_catalog", emits="price_catalog_entry")
def x12_832_to_price_catalog(body: Any, ex: Exchange) -> list[BaseModel]:
    """X12 832 → one PriceCatalogEntry per item price (a list)."""
    return _documents(body, ex, ("832",), "x12.832_to_price_catalog")


@transform("x12.acks_to_ack_result", emits="ack_result")
def x12_acks_to_ack_result(body: Any, ex: Exchange) -> BaseModel:
    """Inbound X12 997/999 → AckResult (match it with edi.common.interchanges.record_ack)."""
    return _documents(body, ex, ("997", "999"), "x12.acks_to_ack_result")[0]


@transform("x12.to_canonical")
def x12_to_canonical(body: Any, ex: Exchange) -> BaseModel | list[BaseModel]:
    """Any supported X12 transaction set → its canonical document(s), chosen by ST01."""
    docs = _documents(body, ex, None, "x12.to_canonical")
    return docs[0] if len(docs) == 1 else docs
