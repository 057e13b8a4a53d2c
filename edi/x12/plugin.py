"""X12 route components (registered through the ``supply_hub.plugins`` entry point ``x12``):

- ``parse: x12`` — raw bytes → ``ParsedX12`` (interchanges with their transaction sets).
  Envelope errors raise ``StepError`` with the location (``envelope_errors: fail``, the
  default) or stay on the body for ``ack`` to reject them (``envelope_errors: keep``);
  recovered defects become ``ex.warnings``.
- ``split: transaction`` (``edi.common.route_steps``) — one part per transaction set; a part's
  body is the ``TransactionSet``, which keeps its interchange and group (envelope info).
  Sets with errors, and every set of a duplicate interchange, are not split out: each adds an
  entry to ``ex.exceptions`` instead.
- ``ack: auto`` — per interchange: refuses it when ISA15 is not the usage expected; rejects
  transaction sets (ST01) not in the sender's ``inbound_documents`` (AK5/IK5 R 1) and functional
  groups whose GS08 does not start with its ``x12.version`` (AK9 R 2); records it in the
  interchange log (duplicate → TA1 025 and a ``duplicate_interchange`` business exception),
  builds the TA1/997/999 the partner expects and appends it to ``ex.side_outputs`` for the ack
  endpoint (step config ``endpoint``, else the partner's
  ``outbound_endpoints["997"|"999"|"TA1"|"ack"]``). Inbound TA1/997/999 are matched to what the
  hub sent and their result recorded (``record_ack``); a rejection or an ack of something never
  sent is an ``ack_missing_or_negative`` business exception.
- transforms ``x12.850_to_purchase_order``, ``x12.855_to_purchase_order_ack``,
  ``x12.856_to_ship_notice``, ``x12.810_to_invoice``, ``x12.846_to_inventory_snapshot``,
  ``x12.832_to_price_catalog`` (a list of entries), ``x12.acks_to_ack_result`` and
  ``x12.to_canonical`` (chooses by ST01).

Route order: ``parse: x12`` → ``ack: auto`` → ``split: transaction`` → ``transform: ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from edi.common.ack_results import AckResult
from edi.common.control_numbers import EnvelopeProfile, NumberSource
from edi.common.diagnostics import Level, error
from edi.common.interchanges import GroupInfo, Party, record_ack, register_outbound
from edi.common.route_steps import (
    UNSUPPORTED_DOCUMENT,
    UNSUPPORTED_VERSION,
    AckConfig,
    EdiAdapter,
    EnvelopeParseConfig,
    Finding,
    InterchangeView,
    Part,
    Reply,
    mapping_failure,
    not_agreed,
    note_invalid_identifiers,
    one_or_many,
    parse_checked,
    register_body,
    single_document_transform,
)
from edi.x12.acks import build_reply
from edi.x12.engine import map_set
from edi.x12.mapping.acks import ta1_results
from edi.x12.profile import X12Profile
from edi.x12.reader import Interchange, ParsedX12, TransactionSet, read_x12
from hub.exchange import Exchange
from hub.registry import RouteEnv, StepError, parser, transform

CONTENT_TYPE = "application/edi-x12"


X12ParseConfig = EnvelopeParseConfig  # parse: x12 options


@parser("x12", config=X12ParseConfig)
def parse_x12(raw: bytes, config: X12ParseConfig | None, ex: Exchange) -> ParsedX12:
    """Raw X12 bytes → interchanges with their transaction sets."""
    parsed = parse_checked(ex, config, lambda: read_x12(raw), ParsedX12.diagnostics, str, "x12_unreadable",
                           "x12_envelope")
    ex.headers["x12_interchanges"] = [p.interchange.envelope_info() for p in parsed.interchanges]
    return parsed


class X12Adapter(EdiAdapter):
    standard = "X12"
    content_type = CONTENT_TYPE
    part_key = "set"
    refusal = "TA1 025"

    def interchanges(self, body: ParsedX12) -> list[InterchangeView]:
        return [self._view(entry.interchange, entry.transactions) for entry in body.interchanges]

    @staticmethod
    def _view(interchange: Interchange, sets: list[TransactionSet]) -> InterchangeView:
        groups = [GroupInfo(g.functional_id, g.control_number, g.sender_id, g.receiver_id, g.version,
                            tuple((s.set_id, s.control_number) for s in g.sets)) for g in interchange.groups]
        parts = [Part(f"{ts.set_id} {ts.control_number}", ts, ts.first_error()) for ts in sets]
        return InterchangeView(Party(interchange.sender_qualifier, interchange.sender_id),
                               Party(interchange.receiver_qualifier, interchange.receiver_id),
                               interchange.control_number, interchange.version, interchange.is_test, groups, parts,
                               interchange, f"segment {interchange.position} (ISA), element 6",
                               interchange.usage, f"segment {interchange.position} (ISA), element 15",
                               f"segment {interchange.position} (ISA), element 8")

    def partner(self, registry: Any, view: InterchangeView) -> Any:
        return registry.by_isa(view.sender.qualifier, view.sender.identifier)

    def agreement(self, view: InterchangeView, partner: Any) -> list[Finding]:
        found = []
        declared = partner.x12.version if partner.x12 is not None else ""
        for group in view.source.groups:
            # GS08 starts with the version/release (004010), an industry identifier may follow
            # (004010VICS, 005010X222A1). Groups of acknowledgements are exempt: a 999 is 005010X231A1
            # whatever the partner's documents are.
            if not declared or group.functional_id == "FA" or group.version.startswith(declared):
                continue
            reason = (f"functional group {group.control_number} is version {group.version or '(none)'}, not partner "
                      f"{partner.id}'s x12.version {declared}")
            found.append(Finding(
                error(reason, level=Level.GROUP, segment_position=group.position, segment_id="GS", element_position=8,
                      code=UNSUPPORTED_VERSION, ack_code="2", bad_value=group.version),  # AK905 2: version not supported
                group.diagnostics, [n for n, part in enumerate(view.parts) if part.body.group is group]))
        for n, part in enumerate(view.parts):
            ts: TransactionSet = part.body
            reason = not_agreed(partner, "transaction set", ts.set_id)
            if reason is not None:
                found.append(Finding(
                    error(reason, level=Level.TRANSACTION, segment_position=ts.position, segment_id="ST",
                          element_position=1, set_position=1, code=UNSUPPORTED_DOCUMENT, ack_code="1",  # AK502 1
                          bad_value=ts.set_id),
                    ts.summary.diagnostics, [n]))
        return found

    def inspect(self, view: InterchangeView, partner: Any, ex: Exchange, env: RouteEnv) -> None:
        db = env.services.get("db")
        interchange: Interchange = view.source
        for part in view.parts:
            ts: TransactionSet = part.body
            # Syntax errors found by the mapping go into the 997/999 (AK3/AK4); business problems
            # stay out of it (the ack step records them, see edi.common.route_steps).
            docs = map_set(ts)
            if db is not None and docs and ts.set_id in ("997", "999") and ts.first_error() is None:
                _record_inbound_ack(db, docs[0], interchange, ts.group, ex, env)
            ts.premapped = docs  # the transform after split takes them instead of mapping again
        if db is not None and interchange.first_error() is None:
            for result in ta1_results(interchange)[0]:
                _record_inbound_ack(db, result, interchange, None, ex, env)

    def reply(self, view: InterchangeView, partner: Any, config: AckConfig,
              numbers: Callable[[EnvelopeProfile], NumberSource], duplicate: bool,
              now: datetime | None) -> Reply | None:
        interchange: Interchange = view.source
        base = _ack_profile(interchange, partner, config)
        profile = X12Profile.reply_to(interchange, base)
        written = build_reply(interchange, base, numbers=numbers(profile), duplicate=duplicate, now=now)
        if written is None:
            return None

        def register(session: Session, message_id: str) -> None:
            register_outbound(session, standard="X12", sender=Party(profile.sender_qualifier, profile.sender_id),
                              receiver=Party(profile.receiver_qualifier, profile.receiver_id),
                              control_number=written.interchange_control_number, version=profile.isa_version,
                              test=profile.test, message_id=message_id, groups=written.groups)

        kind = "TA1" if not written.groups else profile.ack_kind
        return Reply(written.data, kind, written.interchange_control_number, register)


def _ack_profile(interchange: Interchange, partner: Any, config: AckConfig) -> X12Profile | None:
    """The partner's registry profile (its ack kind, TA1 agreement, ack endpoint), the step's
    ``kind`` overriding the ack kind; ``reply_to`` then mirrors the inbound envelope."""
    if partner is None:
        return X12Profile(sender_id="-", receiver_id="-", ack_kind=config.kind) if config.kind else None
    profile = X12Profile.from_partner(partner, our_id=interchange.receiver_id[:15] or "-",
                                      our_qualifier=interchange.receiver_qualifier[:2].ljust(2, "Z"))
    # An acknowledgement asks for no TA1 of its own: acks are never acknowledged.
    changes: dict[str, Any] = {"request_ta1": False}
    if config.kind:
        changes["ack_kind"] = config.kind
    return profile.model_copy(update=changes)


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


register_body(ParsedX12, X12Adapter())


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
    note_invalid_identifiers(ex, body.diagnostics)
    if docs is None:
        raise mapping_failure(body.errors, body.business, "x12_mapping")
    ex.headers["envelope"] = body.envelope_info()
    if body.interchange.partner is not None:
        ex.headers["partner_id"] = body.interchange.partner.id
    return docs


def _single(name: str, set_id: str, emits: str) -> Callable:
    return single_document_transform(name, set_id, emits, _documents,
                                     f"X12 {set_id} transaction set → canonical {emits}.")


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
    return one_or_many(_documents(body, ex, None, "x12.to_canonical"))
