"""EDIFACT route components (registered through the ``supply_hub.plugins`` entry point
``edifact``):

- ``parse: edifact`` — raw bytes → ``EdifactFile`` (pydifact interchanges and messages with the
  hub's diagnostics). Envelope and syntax errors raise ``StepError`` with their location
  (``envelope_errors: fail``, the default) or stay on the body for ``ack`` to report them in the
  CONTRL (``envelope_errors: keep``); recovered defects become ``ex.warnings``.
- ``split: transaction`` (shared with X12, ``edi.common.route_steps``) — one part per message;
  the part's body is the ``ReadMessage`` (it keeps its interchange and group). Rejected messages
  and every message of a duplicate interchange are not split out: each adds to ``ex.exceptions``.
- ``ack: auto`` (shared) — per interchange: refuses it when UNB 0035 is not the usage expected;
  rejects messages (UCM 4, 0085 17 "no agreement") whose type is not in the sender's
  ``inbound_documents`` or whose directory (UNH S009 0052+0054) is not its ``edifact.version``;
  records it in the interchange log (a duplicate gets UCI action 4 / error 26 and a
  ``duplicate_interchange`` business exception), builds the CONTRL when UNB 0031 = 1, the
  partner's agreement lists CONTRL or ``ack: {kind: CONTRL}`` asks, logs it as sent and appends
  it to ``ex.side_outputs`` (endpoint: step config, else the partner's
  ``outbound_endpoints["CONTRL"|"ack"]``).
- ``edifact_ack_log`` — for an inbound CONTRL or APERAK message: matches it to the interchange
  the hub sent and records the result; the body becomes the ``AckResult`` (CONTRL) or the
  APERAK record. A CONTRL rejecting what the hub sent is an ``ack_missing_or_negative``
  business exception; ``others: pass`` lets the partner's other messages through unchanged.
- transforms ``edifact.orders_to_purchase_order``, ``edifact.ordrsp_to_purchase_order_ack``,
  ``edifact.desadv_to_ship_notice``, ``edifact.invoic_to_invoice``,
  ``edifact.invrpt_to_inventory_snapshot``, ``edifact.recadv_to_goods_receipt``,
  ``edifact.pricat_to_price_catalog`` (a list), ``edifact.contrl_to_ack_result`` and
  ``edifact.to_canonical`` (chooses by UNH message type).

Route order: ``parse: edifact`` → ``ack: auto`` → ``split: transaction`` → ``transform: ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from edi.common.ack_results import AckResult
from edi.common.control_numbers import EnvelopeProfile, NumberSource
from edi.common.interchanges import GroupInfo, Party
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
from edi.edifact.contrl import aperak_result, build_contrl, contrl_due, contrl_result, record_aperak, record_contrl
from edi.edifact.contrl import register_sent
from edi.edifact.diagnostics import Level, SyntaxCode, describe
from edi.edifact.engine import map_message
from edi.edifact.mapping.base import MappingOptions
from edi.edifact.model import EdifactFile, ReadInterchange, ReadMessage, element
from edi.edifact.profile import EdifactProfile
from edi.edifact.reader import read
from hub.exchange import Exchange
from hub.registry import RouteEnv, Step, StepError, StrictModel, parser, step, transform

CONTENT_TYPE = "application/edifact"


EdifactParseConfig = EnvelopeParseConfig  # parse: edifact options


@parser("edifact", config=EdifactParseConfig)
def parse_edifact(raw: bytes, config: EdifactParseConfig | None, ex: Exchange) -> EdifactFile:
    """Raw EDIFACT bytes → interchanges with their messages (pydifact model + diagnostics)."""
    file = parse_checked(ex, config, lambda: read(raw, filename=ex.filename), EdifactFile.all_diagnostics, describe,
                         "edifact_unreadable", "edifact_envelope")
    ex.headers["edifact_interchanges"] = [ic.envelope_info() for ic in file.interchanges]
    return file


class EdifactAdapter(EdiAdapter):
    standard = "EDIFACT"
    content_type = CONTENT_TYPE
    part_key = "message_ref"
    refusal = "CONTRL UCI 4 / 26"

    def interchanges(self, body: EdifactFile) -> list[InterchangeView]:
        return [self._view(interchange) for interchange in body.interchanges]

    @staticmethod
    def _view(interchange: ReadInterchange) -> InterchangeView:
        messages = interchange.messages
        # Without UNG, the log keeps one pseudo-group per message type (as CONTRL matching does).
        groups = [GroupInfo(t, interchange.reference, sets=tuple((m.type, m.reference_number)
                                                                  for m in messages if m.type == t))
                  for t in dict.fromkeys(m.type for m in messages)]
        parts = [Part(f"{m.type} {m.reference_number}", m,
                      (m.errors or interchange.errors)[0] if m.rejected else None) for m in messages]
        return InterchangeView(Party(interchange.sender_qualifier, interchange.sender_id),
                               Party(interchange.recipient_qualifier, interchange.recipient_id),
                               interchange.reference, f"{interchange.syntax_id}:{interchange.syntax_version}",
                               interchange.test, groups, parts, interchange,
                               f"segment {interchange.position} (UNB), element 2, component 1",
                               element(interchange.header, 10), f"segment {interchange.position} (UNB), element 11",
                               f"segment {interchange.position} (UNB), element 3, component 1")

    def partner(self, registry: Any, view: InterchangeView) -> Any:
        return registry.by_unb(view.sender.identifier, view.sender.qualifier or None)

    def agreement(self, view: InterchangeView, partner: Any) -> list[Finding]:
        declared = partner.edifact.version if partner.edifact is not None else ""
        found = []
        for n, part in enumerate(view.parts):
            message: ReadMessage = part.body
            reason = not_agreed(partner, "message", message.type)
            if reason is not None:
                found.append(_no_agreement(message, n, UNSUPPORTED_DOCUMENT, reason, 1, message.type))
            # CONTRL's S009 names a syntax version (D:3, 4:1), not a directory.
            elif declared and message.type != "CONTRL" and message.directory != declared:
                reason = (f"message {message.reference_number} ({message.type}) is directory "
                          f"{message.directory or '(none)'}, not partner {partner.id}'s edifact.version {declared}")
                found.append(_no_agreement(message, n, UNSUPPORTED_VERSION, reason, 2, message.directory))
        return found

    def inspect(self, view: InterchangeView, partner: Any, ex: Exchange, env: RouteEnv) -> None:
        options = _options(partner)
        for part in view.parts:
            message: ReadMessage = part.body
            if message.type not in ("CONTRL", "APERAK"):
                # Syntax errors found by the mapping go into the CONTRL too (UCS/UCD), business
                # problems do not (the ack step records them); the transform after split takes
                # the documents instead of mapping again.
                message.premapped = map_message(message, options) or None

    def reply(self, view: InterchangeView, partner: Any, config: AckConfig,
              numbers: Callable[[EnvelopeProfile], NumberSource], duplicate: bool,
              now: datetime | None) -> Reply | None:
        interchange: ReadInterchange = view.source
        agreed = _agreed_profile(interchange, partner, config)
        if not (contrl_due(interchange, agreed) or (duplicate and interchange.ack_requested)):
            return None
        profile = EdifactProfile.reply_to(interchange, agreed)
        written = build_contrl(interchange, profile, numbers(profile), duplicate=duplicate, now=now)

        def register(session: Session, message_id: str) -> None:
            register_sent(session, written, profile, message_id=message_id)

        return Reply(written.data, "CONTRL", written.reference, register)


def _no_agreement(message: ReadMessage, index: int, code: str, reason: str, component: int, value: str) -> Finding:
    """A message rejection at UNH S009 (component 1 the type, 2 the version) for the CONTRL.

    0085 code 17 "no agreement": no agreement exists that allows receipt of a message with this
    value of the component S011 points at — the partner registry entry is that agreement. The
    other candidates fit worse: 3 "message version/release not supported" is gone from the
    ISO 9735 code list (UN directories from D01A; EANCOM 2002 keeps it only as a GS1 temporary
    code), and 14 "value not supported in this position" is about the syntax, not the agreement."""
    d = message.finding("error", code, reason, SyntaxCode.NO_AGREEMENT, position=message.position, tag="UNH",
                        element=2, component=component, level=Level.TRANSACTION)
    return Finding(replace(d, bad_value=value), message.diagnostics, [index])


def _agreed_profile(interchange: ReadInterchange, partner: Any, config: AckConfig) -> EdifactProfile:
    """The partner's registry profile (CONTRL agreement, ack endpoint), the step's ``kind``
    forcing or declining a CONTRL; ``reply_to`` then answers in the inbound syntax."""
    if partner is None:
        profile = EdifactProfile(sender_id="-", receiver_id="-")
    else:
        profile = EdifactProfile.from_partner(partner, our_id=interchange.recipient_id[:35] or "-",
                                              our_qualifier=interchange.recipient_qualifier[:4] or None)
        # A CONTRL never asks for a CONTRL (UNB 0031 stays empty).
        profile = profile.model_copy(update={"request_contrl": False})
    if config.kind is not None:
        profile = profile.model_copy(update={"contrl": config.kind.upper() == "CONTRL"})
    return profile


def _options(partner: Any) -> MappingOptions | None:
    """The partner agreement's values a message may leave out (EANCOM often omits CUX)."""
    if partner is None or not partner.default_currency:
        return None
    return MappingOptions(default_currency=partner.default_currency)


register_body(EdifactFile, EdifactAdapter())


class AckLogConfig(StrictModel):
    on_unmatched: Literal["warn", "fail"] = "warn"
    # pass: other messages go on unchanged, so one route takes a partner's CONTRLs and documents.
    others: Literal["fail", "pass"] = "fail"


@step
class EdifactAckLogStep(Step):
    kind = "edifact_ack_log"
    Config = AckLogConfig
    shorthand = "on_unmatched"
    summary = "Match an inbound CONTRL / APERAK to the interchange the hub sent and record its result"

    def process(self, ex: Exchange) -> list[Exchange]:
        message = ex.body
        if isinstance(message, ReadMessage) and message.type not in ("CONTRL", "APERAK") and \
                self.config.others == "pass":  # type: ignore[attr-defined]
            return [ex]
        if not isinstance(message, ReadMessage) or message.type not in ("CONTRL", "APERAK"):
            raise StepError("edifact_ack_log needs one CONTRL or APERAK message (use 'split: transaction' first), "
                            f"got {type(message).__name__}", code="edifact_body")
        db = self.env.service("db")
        with db.session() as session:
            if message.type == "CONTRL":
                result = contrl_result(message)
                match = record_contrl(session, message.interchange, result, message_id=ex.message_id)
                matched, unmatched = match.interchange_ids, match.unmatched
            else:
                result = aperak_result(message)
                matched = record_aperak(session, message.interchange, result, message_id=ex.message_id)
                unmatched = [] if matched else [f"APERAK refs {result['refs']}"]
            if message.type == "CONTRL" and _rejects(result):
                _record_rejection(session, message, result, ex, self.env.route_name)
        ex.headers["ack_matched_interchanges"] = matched
        if unmatched:
            text = f"{message.type} {message.reference_number} matches nothing the hub sent: {', '.join(unmatched)}"
            if self.config.on_unmatched == "fail":  # type: ignore[attr-defined]
                raise StepError(text, code="ack_unmatched")
            ex.warnings.append(text)
        body = AckResult.model_validate(result) if message.type == "CONTRL" else result
        return [ex.derive(body, doctype="ack_result" if message.type == "CONTRL" else "aperak")]


def _rejects(result: dict[str, Any]) -> bool:
    """Whether a CONTRL (as an ``ack_result``) rejects the interchange or any message of it."""
    rejected = "REJECTED"
    return result.get("interchange_status") == rejected or any(
        group.get("status") == rejected or any(s.get("status") == rejected for s in group.get("sets") or [])
        for group in result.get("groups") or [])


def _record_rejection(session: Session, message: ReadMessage, result: dict[str, Any], ex: Exchange,
                      route: str | None) -> None:
    """A CONTRL rejecting what the hub sent is an ``ack_missing_or_negative`` business exception
    (domain.md C #8), as a rejecting 997/999 is on the X12 side."""
    from hub.business_exceptions import record_exception

    text = (f"CONTRL {message.reference_number} from {message.interchange.sender_id} rejects interchange "
            f"{result.get('interchange_control_number')} the hub sent")
    record_exception(session, kind="ack_missing_or_negative", message=text, document_type="ack_result",
                     document_key=message.interchange.reference, partner_id=message.interchange.sender_id,
                     message_id=ex.message_id, route=route, detail={"ack": result})
    ex.exceptions.append({"kind": "ack_missing_or_negative", "message": text})


# -- transforms ---------------------------------------------------------------------------------


def _documents(body: Any, ex: Exchange, types: tuple[str, ...] | None, name: str) -> list[BaseModel]:
    from hub.canonical import get_model

    if not isinstance(body, ReadMessage):
        raise StepError(f"{name} needs one EDIFACT message (use 'split: transaction' first), got "
                        f"{type(body).__name__}", code="edifact_body")
    if types and body.type not in types:
        raise StepError(f"{name} maps {'/'.join(types)} messages, got {body.type}",
                        location=f"segment {body.position} (UNH), element 2", code="edifact_wrong_message")
    partner = body.interchange.partner
    docs = [contrl_result(body)] if body.type == "CONTRL" else map_message(body, _options(partner))
    # The mapping's findings (reading's went to ex.warnings at parse), also when the ack step mapped.
    found = body.diagnostics[body.mapping_start:] if body.mapping_start is not None else []
    ex.warnings.extend(describe(d) for d in found if not d.is_error)
    note_invalid_identifiers(ex, found)
    if not docs:
        raise mapping_failure(body.errors, body.business, "edifact_mapping")
    ex.headers["envelope"] = body.envelope_info()
    if partner is not None:
        ex.headers["partner_id"] = partner.id
    out = []
    for doc in docs:
        doc.pop("envelope", None)
        model = AckResult if doc["document_type"] == "ack_result" else get_model(doc["document_type"])
        out.append(model.model_validate(doc))
    return out


def _single(name: str, message_type: str, emits: str) -> Callable:
    return single_document_transform(name, message_type, emits, _documents,
                                     f"EDIFACT {message_type} message → canonical {emits}.")


edifact_orders_to_purchase_order = _single("edifact.orders_to_purchase_order", "ORDERS", "purchase_order")
edifact_ordrsp_to_purchase_order_ack = _single("edifact.ordrsp_to_purchase_order_ack", "ORDRSP", "purchase_order_ack")
edifact_desadv_to_ship_notice = _single("edifact.desadv_to_ship_notice", "DESADV", "ship_notice")
edifact_invoic_to_invoice = _single("edifact.invoic_to_invoice", "INVOIC", "invoice")
edifact_invrpt_to_inventory_snapshot = _single("edifact.invrpt_to_inventory_snapshot", "INVRPT", "inventory_snapshot")
edifact_recadv_to_goods_receipt = _single("edifact.recadv_to_goods_receipt", "RECADV", "goods_receipt")
edifact_contrl_to_ack_result = _single("edifact.contrl_to_ack_result", "CONTRL", "ack_result")


@transform("edifact.pricat_to_price_catalog", emits="price_catalog_entry")
def edifact_pricat_to_price_catalog(body: Any, ex: Exchange) -> list[BaseModel]:
    """EDIFACT PRICAT → one PriceCatalogEntry per item line (a list)."""
    return _documents(body, ex, ("PRICAT",), "edifact.pricat_to_price_catalog")


@transform("edifact.to_canonical")
def edifact_to_canonical(body: Any, ex: Exchange) -> BaseModel | list[BaseModel]:
    """Any supported EDIFACT message → its canonical document(s), chosen by UNH message type."""
    return one_or_many(_documents(body, ex, None, "edifact.to_canonical"))
